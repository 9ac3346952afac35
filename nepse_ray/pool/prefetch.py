"""``Prefetcher``: a facade's model-form bulk results turned into models in the driver while later pages still arrive.

``ray.get(list_of_refs)`` waits until every object of the list is ready and only then unpickles them, one after
another, in the calling thread. A model-form result is the page's body (``wire.py``), so each unpickle is a pydantic
validation of the whole page: measured at W = 15 on the shared 2-core machine (``nepse-ray bench --only bulk-refs``,
495 pages of 500 rows), every ref of ``[api.remote.floorsheet(page=p) ...]`` was ready 19.2 s after the first call
and the ``ray.get`` then took 7.8 s more (4.2 s of the driver's CPU): the pool had delivered 0.83 of the limit, the
user got 0.59. The pool cannot move that work out of the driver (the user wants models there), only earlier.

So a facade hands each model-form bulk ref it returns to its prefetcher, a daemon thread that waits for the refs
in the order they were made, fetches each as it becomes ready (as the ``Wire`` itself, not materialised) and
validates the page into its model then, while the main thread waits for later pages. The model goes into this
process's table (``made_ahead.py``) under the exact endpoint and body bytes; when the user's ``ray.get`` unpickles
that result, ``wire.restore`` takes the model from the table instead of validating the same bytes again. A model is
taken once and never shared: a second ``ray.get`` of the ref, or another ref with the same body, validates again.
A miss only costs the validation the table would have saved, so the table forgets a model not taken within a
minute (its ref dropped, or resolved before the prefetcher got to it), and the prefetcher pauses while the models
waiting to be taken come from more than 128 MiB of bodies.

The prefetcher makes models only while at least :data:`BACKLOG` of the facade's model refs are unresolved in its
queue: a caller resolving its refs one by one (``ray.get(api.remote.x())``) would otherwise race it for every page
and pay the validation twice. Either way it lets go of each ref once it is ready: a result its caller dropped
lives no longer than until it exists.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

import ray

from nepse_ray.pool import wire
from nepse_ray.pool.made_ahead import PREFETCHED, Prefetched
from nepse_ray.pool.wire import Wire

#: Refs the prefetcher waits on at once: the oldest of its queue (bulk refs are answered about in order).
WINDOW = 64
#: Unresolved model refs from which the prefetcher works.
BACKLOG = 8
_POLL = 0.2
#: Seconds ``stop`` waits for the thread to end.
_STOP_WAIT = 5.0


class Prefetcher:
    """One facade's thread making models ahead of ``ray.get``; see the module docstring."""

    def __init__(self, table: Prefetched = PREFETCHED) -> None:
        self._table = table
        self._queue: collections.deque[Any] = collections.deque()
        self._changed = threading.Condition()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def watch(self, ref: Any) -> None:
        """Make the model of ``ref`` (a model-form result) ahead, if the caller has a backlog of them."""
        with self._changed:
            if self._stopped:
                return
            self._queue.append(ref)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nepse-ray-prefetch", daemon=True)
                self._thread.start()
            self._changed.notify()

    def stop(self) -> None:
        """End the thread (it finishes the page it is on) and forget the refs it still waited for."""
        with self._changed:
            self._stopped = True
            self._queue.clear()
            self._changed.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(_STOP_WAIT)

    def _run(self) -> None:
        wire.keep_wires_in_this_thread()
        while True:
            with self._changed:
                while not self._stopped and not self._queue:
                    self._changed.wait()
                if self._stopped:
                    return
                oldest = [self._queue[i] for i in range(min(WINDOW, len(self._queue)))]
            try:
                ready = _ready(oldest)
            except Exception:  # Ray is gone from this process (shut down without the facade): nothing more to make
                return
            with self._changed:  # the backlog as it is now: the caller may still have been making refs before
                if self._stopped:
                    return
                backlog = len(self._queue) >= BACKLOG
                done = set(ready)  # all among the oldest, still the head of the queue (refs join at its tail)
                head = [self._queue.popleft() for _ in oldest]
                self._queue.extendleft(reversed([ref for ref in head if ref not in done]))
            if backlog and self._table.room():  # else each ready ref is only let go, so it pins no result
                for ref in ready:
                    self._make(ref)

    def _make(self, ref: Any) -> None:
        """Fetch ``ref``'s result as it came and put the model made from it in the table."""
        try:
            result = ray.get(ref)
        except Exception:  # an error: left for the user's ray.get to raise
            return
        if not isinstance(result, Wire):
            return
        self._table.making(result.endpoint, result.payload)
        try:
            model = result.materialise()
        except Exception:  # a body the model refuses: left for the user's ray.get to raise
            self._table.abandon(result.endpoint, result.payload)
            return
        self._table.put(result.endpoint, result.payload, model)


def _ready(refs: list[Any]) -> list[Any]:
    """Those of ``refs`` that are ready, once the first is (or none after a poll), each fetched to this node."""
    ready, _ = ray.wait(refs, num_returns=1, timeout=_POLL, fetch_local=True)
    if ready:
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=True)
    return ready
