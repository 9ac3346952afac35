"""``Prefetched``: models made ahead of the ``ray.get`` that asks for them (``prefetch.py``), in this process.

``wire.restore`` asks this table before it validates a model-form body: a model made from exactly the same endpoint
and bytes is taken from here (once: a model is never shared), else the body is validated as before. The table may
forget a model at any time, since a miss only costs the validation again.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

#: Seconds a model made ahead waits to be taken before it is discarded (its ref was dropped, or resolved first).
KEEP_SECONDS = 60.0
#: Bytes of page bodies whose models may wait to be taken (a model takes a few times its body in memory).
BUDGET_BYTES = 128 * 2**20


class Prefetched:
    """Models made ahead, keyed by (endpoint, body): each taken at most once; thread-safe. One per process.

    The prefetcher says when it starts making a model (:meth:`making`) and hands it over when it is made
    (:meth:`put`). A body asked for while its model was being made is the race the table settles: the caller
    validated it itself, so that model is dropped instead of kept. Nothing else is remembered of a body asked for,
    so the same pages asked for again later are made ahead again.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[tuple[str, bytes], list[tuple[float, Any]]] = {}
        self._making: collections.Counter[int] = collections.Counter()
        """Models being made, by the hash of their key: how many of that key."""
        self._raced: collections.Counter[int] = collections.Counter()
        """Of those, how many were asked for before they were made (each such model is dropped when it comes)."""
        self._nbytes = 0

    def making(self, endpoint: str, payload: bytes) -> None:
        """A model of these bytes is being made (:meth:`put` or :meth:`abandon` follows)."""
        key = hash((endpoint, payload))
        with self._lock:
            self._making[key] += 1

    def put(self, endpoint: str, payload: bytes, model: Any) -> None:
        """Keep ``model``, made from these bytes, until it is taken; dropped if they were asked for meanwhile."""
        key = (endpoint, payload)
        with self._lock:
            if self._done_making(hash(key)):
                self._models.setdefault(key, []).append((self._clock(), model))
                self._nbytes += len(payload)

    def abandon(self, endpoint: str, payload: bytes) -> None:
        """The model of these bytes announced by :meth:`making` will not come (the body was refused)."""
        with self._lock:
            self._done_making(hash((endpoint, payload)))

    def take(self, endpoint: str, payload: bytes) -> Any | None:
        """The model made from exactly these bytes, removed from the table; None if there is none."""
        key = (endpoint, payload)
        with self._lock:
            made = self._models.get(key)
            if not made:
                hashed = hash(key)
                if self._raced[hashed] < self._making[hashed]:
                    self._raced[hashed] += 1
                return None
            _, model = made.pop(0)
            if not made:
                del self._models[key]
            self._nbytes -= len(payload)
            return model

    def room(self) -> bool:
        """Whether more models may be made ahead (less than :data:`BUDGET_BYTES` of bodies held); forgets the models
        older than :data:`KEEP_SECONDS` first."""
        with self._lock:
            stale = self._clock() - KEEP_SECONDS
            for key in list(self._models):
                kept = [(at, model) for at, model in self._models[key] if at > stale]
                self._nbytes -= len(key[1]) * (len(self._models[key]) - len(kept))
                if kept:
                    self._models[key] = kept
                else:
                    del self._models[key]
            return self._nbytes < BUDGET_BYTES

    def clear(self) -> None:
        """Forget every model (those being made are still settled as they come)."""
        with self._lock:
            self._models.clear()
            self._nbytes = 0

    def _done_making(self, hashed: int) -> bool:
        """One model of ``hashed`` is no longer being made: whether it is still wanted (it did not lose a race)."""
        _decrement(self._making, hashed)
        if not self._raced[hashed]:  # a Counter's lookup adds no key
            return True
        _decrement(self._raced, hashed)
        return False

    def __len__(self) -> int:
        with self._lock:
            return sum(map(len, self._models.values()))


def _decrement(counts: collections.Counter[int], key: int) -> None:
    """One fewer of ``key``; a count that reaches zero is removed."""
    if counts[key] <= 1:
        counts.pop(key, None)
    else:
        counts[key] -= 1


#: This process's table, read by ``wire.restore``.
PREFETCHED = Prefetched()
