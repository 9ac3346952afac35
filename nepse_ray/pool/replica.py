"""Cached answers given past the coordinator: its index of small cached answers, and the replica's copies of them.

Every call the coordinator answers costs it a Ray task, and one async actor receives only so many: measured on this
2-core machine (``nepse-ray bench --only facade-overhead``), cached calls pipelined through the coordinator came to
0.23-0.31x a bare actor's rate, about what an async actor answers with one argument (0.30-0.38x). A threaded actor
does better, and its rate falls with what a call carries (a whole request against a number: about 0.49x against
0.62x). So repeated reads of small cached answers (the market-open state, a company's details, a closed day's
summary) are given by the pool's replica, a threaded actor (``replica_actor.py``), each call naming its answer by a
number:

* the coordinator numbers each answer of at most :data:`HOT_MAX_BYTES` it caches (:class:`HotIndex`) and lists
  the numbers with the seconds each has left in what the facades read every ``SESSION_REFRESH`` seconds;
* a facade sends a request whose answer is listed, and has time left, to the replica as ``cached(number)``
  (``routes.py``), never through its call window or the coordinator;
* the replica answers from its copies (:class:`Replica`), byte-bounded; a number it does not hold, or holds
  expired, it asks the coordinator for (``PoolCoordinator.hot_entry``), which answers the numbered request as any
  call (from its cache, or fetched again with retries if it expired since) and says how long the answer may be
  kept. A copy never outlives the coordinator's entry: its time is counted from before the replica asked.

A number stays known to the coordinator :data:`NUMBER_GRACE` seconds after its answer left the cache, so a call
routed just before can still be answered. Numbers outlive a restart of the coordinator, whose cache is lost with
its process: each number's request is kept in a :class:`HotStore` (the GCS key-value store, ``ledger.py``) while it
is known, so the new coordinator answers a number a facade routed before the restart, and each life of the
coordinator numbers from a random start, so no number ever stands for two requests (a copy of one answer is never
given for another). The module is pure: times come from a clock passed in, the store is passed in.
"""

from __future__ import annotations

import pickle
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from nepse_ray.pool.cache import ResultCache
from nepse_ray.pool.request import PoolRequest, RequestKey

#: Cached answers of at most this many bytes are given by the replica.
HOT_MAX_BYTES = 64 * 1024
#: Numbered answers listed to the facades at most (the most recently cached).
HOT_LIMIT = 256
#: Bytes of copies the replica keeps at most.
REPLICA_MAX_BYTES = 16 * 1024 * 1024
#: Seconds a number stays known after its answer left the coordinator's cache.
NUMBER_GRACE = 60.0

#: What the facades read: each listed answer's key, its number and its seconds left.
HotList = dict[RequestKey, tuple[int, float]]


class HotStore(Protocol):
    """Where each known number's request outlives the coordinator's process (``ledger.GcsHotStore``)."""

    def save(self, number: int, data: bytes) -> None: ...

    def load(self, number: int) -> bytes | None: ...

    def forget(self, number: int) -> None: ...

    def clear(self) -> None: ...


class HotIndex:
    """The coordinator's numbers of its small cached answers: which request each stands for, and which to list.

    ``first`` is the first number this life gives (by default a random one of 52 bits)."""

    __slots__ = ("_clock", "_gone", "_next", "_numbers", "_requests", "_store")

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, store: HotStore | None = None, first: int | None = None
    ) -> None:
        self._clock = clock
        self._store = store
        self._numbers: OrderedDict[RequestKey, int] = OrderedDict()  # most recently cached last
        self._requests: dict[int, PoolRequest] = {}
        self._gone: dict[int, float] = {}  # number -> when its answer was found gone from the cache
        self._next = secrets.randbits(52) if first is None else first

    def cached(self, request: PoolRequest, nbytes: int) -> None:
        """``request``'s answer of ``nbytes`` was cached: number it (again) if it is small enough."""
        key = request.key
        if key is None or nbytes > HOT_MAX_BYTES:
            return
        number = self._numbers.pop(key, None)
        if number is None:
            number = self._next
            self._next += 1
            self._requests[number] = request
            if self._store is not None:
                self._store.save(number, pickle.dumps(request))
        self._gone.pop(number, None)
        self._numbers[key] = number

    def request(self, number: int) -> PoolRequest | None:
        """The request ``number`` stands for, if it is still known, here or (given before a restart) in the store."""
        request = self._requests.get(number)
        if request is not None or self._store is None:
            return request
        data = self._store.load(number)
        if data is None:
            return None
        request = pickle.loads(data)
        assert isinstance(request, PoolRequest) and request.key is not None
        self._requests[number] = request
        self._numbers.setdefault(request.key, number)  # cached again, its answer keeps the number
        self._gone[number] = self._clock()  # not cached in this life yet: forgotten after the grace unless it is
        return request

    def clear(self) -> None:
        """The pool is gone: forget every number, in the store too."""
        self._numbers.clear()
        self._requests.clear()
        self._gone.clear()
        if self._store is not None:
            self._store.clear()

    def listed(self, cache: ResultCache[Any]) -> HotList:
        """The most recently cached numbered answers still in ``cache``, with their seconds left."""
        hot: HotList = {}
        for key, number in reversed(self._numbers.items()):
            left = cache.seconds_left(key)
            if left is not None and left > 0:
                hot[key] = (number, left)
                if len(hot) >= HOT_LIMIT:
                    break
        return hot

    def purge(self, cache: ResultCache[Any]) -> int:
        """Forget the numbers whose answers left ``cache`` more than :data:`NUMBER_GRACE` ago; how many."""
        now = self._clock()
        for key, number in list(self._numbers.items()):
            if cache.seconds_left(key) is None:
                self._gone.setdefault(number, now)
        forgotten = [number for number, since in self._gone.items() if now - since > NUMBER_GRACE]
        for number in forgotten:
            del self._gone[number]
            request = self._requests.pop(number)
            assert request.key is not None
            if self._numbers.get(request.key) == number:
                del self._numbers[request.key]
            if self._store is not None:
                self._store.forget(number)
        return len(forgotten)

    def __len__(self) -> int:
        return len(self._requests)


class Replica:
    """The replica's copies of numbered answers, each until the coordinator's entry expires; thread-safe enough for
    Ray's threads (each operation is one dict step under the GIL, and a lost race only costs a second ask)."""

    __slots__ = ("_clock", "_copies", "asked", "hits")

    def __init__(self, max_bytes: int = REPLICA_MAX_BYTES, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._copies: ResultCache[Any] = ResultCache(max_bytes, clock=clock)
        self.hits = 0
        """Calls answered from a copy."""
        self.asked = 0
        """Calls for which the coordinator was asked."""

    def get(self, number: int) -> Any | None:
        """The copy of answer ``number``, if it is held unexpired."""
        copy = self._copies.get(number)
        if copy is not None:
            self.hits += 1
        return copy

    def asking(self) -> float:
        """Count an ask of the coordinator; the time to pass to :meth:`keep` for its answer."""
        self.asked += 1
        return self._clock()

    def keep(self, number: int, answer: Any, nbytes: int, asked_at: float, seconds_left: float) -> None:
        """Keep ``answer`` until ``seconds_left`` after ``asked_at`` (before the coordinator measured them)."""
        ttl = asked_at + seconds_left - self._clock()
        if ttl > 0:
            self._copies.put(number, answer, nbytes, ttl)
