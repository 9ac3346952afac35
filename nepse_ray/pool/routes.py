"""``Routes``: what a facade sends past the coordinator's queue, and where.

Two kinds of call need no queue:

* **session calls** (``get_access_token``, ``get_salts``, ``get_market_id`` ...), which a worker answers from its
  token state, go to the pool's serving workers in turn, like Ray Serve's router;
* **small cached answers** (``replica.py``): a request whose answer the coordinator holds in its cache, numbered and
  listed with the seconds it has left, goes to the pool's replica (``replica_actor.py``) as that number, until those
  seconds are over.

The facade reads both lists from the coordinator in one control call (``PoolCoordinator.routes``) at most every
``refresh`` seconds, when a call needs them. A request not listed, or listed with its time over, goes to the
coordinator as before; a refused read (the coordinator gone) leaves both lists empty until the next one. Pure and
thread-safe: the read and the clock are passed in.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from nepse_ray.pool.replica import HotList
from nepse_ray.pool.request import RequestKey

#: Reads the serving workers and the listed cached answers; ``([], {})`` when they cannot be read (and no answers
#: while there is no replica to give them).
ReadRoutes = Callable[[], tuple[list[Any], HotList]]


class Routes:
    """One facade's lists of serving workers and of the cached answers the replica gives; the turn over the
    workers."""

    def __init__(self, read: ReadRoutes, refresh: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._refresh = refresh
        self._clock = clock
        self._lock = threading.Lock()
        self._workers: list[Any] = []
        self._hot: dict[RequestKey, tuple[int, float]] = {}  # key -> (number, until on this clock)
        self._fetched = -math.inf
        self._turn = 0
        self.session_calls = 0
        """Session calls this facade sent straight to a worker."""
        self.replica_calls = 0
        """Calls for cached answers this facade sent to the replica."""

    def session_worker(self) -> Any | None:
        """The next serving worker in turn for a session call, or None when the pool has none."""
        with self._lock:
            worker = self._next_worker()
            if worker is not None:
                self.session_calls += 1
            return worker

    def cached(self, key: RequestKey) -> int | None:
        """The number of ``key``'s cached answer, if it is listed with time left; else None (the request goes to the
        coordinator)."""
        with self._lock:
            self._read_if_due()
            listed = self._hot.get(key)
            if listed is None or listed[1] <= self._clock():
                return None
            self.replica_calls += 1
            return listed[0]

    def forget(self) -> None:
        """Read the lists again on the next call (a worker went away)."""
        with self._lock:
            self._fetched = -math.inf

    def _next_worker(self) -> Any | None:
        self._read_if_due()
        if not self._workers:
            return None
        self._turn += 1
        return self._workers[self._turn % len(self._workers)]

    def _read_if_due(self) -> None:
        if self._clock() - self._fetched < self._refresh:
            return
        asked_at = self._clock()  # each answer's seconds are counted from before the coordinator measured them
        workers, hot = self._read()
        self._workers = workers
        self._hot = {key: (number, asked_at + left) for key, (number, left) in hot.items()}
        self._fetched = asked_at
