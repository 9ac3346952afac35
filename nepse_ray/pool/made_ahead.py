"""``Prefetched``: models made ahead of the ``ray.get`` that asks for them (``prefetch.py``), in this process.

``wire.restore`` asks this table before it validates a model-form body: a model made from exactly the same endpoint
and bytes is taken from here (once: a model is never shared), else the body is validated as before. The table may
forget a model at any time, since a miss only costs the validation again.
"""

from __future__ import annotations

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

    A body asked for before its model was made is remembered (by its hash) for :data:`KEEP_SECONDS`, so the model
    is not made, or not kept, after the caller has validated it itself.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._models: dict[tuple[str, bytes], list[tuple[float, Any]]] = {}
        self._asked: dict[int, float] = {}
        self._nbytes = 0

    def wanted(self, endpoint: str, payload: bytes) -> bool:
        """Whether a model of these bytes may still be taken (nobody asked for it yet)."""
        with self._lock:
            return hash((endpoint, payload)) not in self._asked

    def put(self, endpoint: str, payload: bytes, model: Any) -> None:
        """Keep ``model``, made from these bytes, until it is taken; dropped if they were asked for meanwhile."""
        key = (endpoint, payload)
        with self._lock:
            if self._asked.pop(hash(key), None) is None:
                self._models.setdefault(key, []).append((self._clock(), model))
                self._nbytes += len(payload)

    def take(self, endpoint: str, payload: bytes) -> Any | None:
        """The model made from exactly these bytes, removed from the table; None if there is none."""
        key = (endpoint, payload)
        with self._lock:
            made = self._models.get(key)
            if not made:
                self._asked.pop(hash(key), None)  # the newest last, so the stale ones are the first
                self._asked[hash(key)] = self._clock()
                self._forget_asked()
                return None
            _, model = made.pop(0)
            if not made:
                del self._models[key]
            self._nbytes -= len(payload)
            return model

    def room(self) -> bool:
        """Whether more models may be made ahead (less than :data:`BUDGET_BYTES` of bodies held); forgets the models
        and the bodies asked for older than :data:`KEEP_SECONDS` first."""
        with self._lock:
            self._forget_asked()
            stale = self._clock() - KEEP_SECONDS
            for key in list(self._models):
                kept = [(at, model) for at, model in self._models[key] if at > stale]
                self._nbytes -= len(key[1]) * (len(self._models[key]) - len(kept))
                if kept:
                    self._models[key] = kept
                else:
                    del self._models[key]
            return self._nbytes < BUDGET_BYTES

    def _forget_asked(self) -> None:
        """Forget the bodies asked for more than :data:`KEEP_SECONDS` ago (the oldest are first); under the lock."""
        stale = self._clock() - KEEP_SECONDS
        while self._asked:
            oldest = next(iter(self._asked))
            if self._asked[oldest] > stale:
                return
            del self._asked[oldest]

    def __len__(self) -> int:
        with self._lock:
            return sum(map(len, self._models.values()))


#: This process's table, read by ``wire.restore``.
PREFETCHED = Prefetched()
