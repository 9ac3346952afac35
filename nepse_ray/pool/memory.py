"""The coordinator's memory after a backlog: which allocator its process uses, and when it hands freed memory back.

Every bulk request queued at the coordinator costs it about 60 KiB while it waits, so a backlog of 10,000 takes the
process from about 165 MiB to 770 MiB (``nepse-ray bench --only coordinator-backlog``). Measured inside the actor on
this machine (Ray 2.60, CPython 3.11, glibc), once such a backlog has drained:

* **Ray's per-task state and the pool's own structures are all given back.** Blocks in use by malloc went
  22.5 -> 2,772 -> 25 MiB (Ray runs each call of an async actor on a fiber with its own stack, mostly untouched),
  Python's live blocks 33.3 -> 187 -> 33.5 MiB and objects the GC tracks 84,500 -> 1,243,000 -> 84,400; the
  dispatcher's queues, the shared requests, the executions and the abandoned attempts are empty, the cache holds
  what it held, the recorder's latencies are a fixed window and its metrics buffer empties every tick.
* **What stays is memory the allocators keep for reuse.** glibc kept 2.76 GB free in its heaps, about 430 MiB of
  it resident: ``malloc_trim(0)`` hands that back (757 -> 323 MiB). Fewer glibc arenas change nothing
  (``MALLOC_ARENA_MAX=2``: 320 MiB). The rest is CPython's own small-object allocator: it keeps 1 MiB arenas and
  gives one back only when every object in it is gone, and the backlog's arenas (177 against 35 at rest) each keep
  a few objects that outlived it, so about 150 MiB stay resident for 0.2 MiB of live objects.
* **So a coordinator that may hold a large backlog runs with** ``PYTHONMALLOC=malloc`` (:func:`coordinator_env`,
  set through the actor's ``runtime_env``): Python's small objects then come from glibc, whose trim gives back
  the free pages around the survivors. After the same drain and a trim: 196 MiB against 168 MiB at rest (1.17x;
  with the default ``driver_window``, which keeps all but 1,000 of a backlog in the driver, 1.10x against 1.13x
  on CPython's allocator). It has a price, which is why only such pools pay it: a ``runtime_env`` of its own
  means a Python process started for the coordinator instead of one Ray keeps ready, and a pool took 5.3 s
  instead of 2.7 s to start (medians of six, alternating, on the 2-core machine at a load average of 20-30), and
  in alternating rounds cached calls through it ran at 640 against 838 calls/s (best of five; medians 528 and
  593), with 883 against 766 us of the coordinator's CPU per call.
  A bulk lane of at most :data:`PYMALLOC_QUEUE` requests (the default ``max_queued``) keeps CPython's allocator:
  after a backlog of 2,000 at the coordinator and a trim it was at 201 MiB against 165 MiB at rest (1.21x).

When a backlog of at least :data:`DRAINED_BACKLOG` requests has drained, the coordinator's scaling tick calls
:func:`release_memory` once (:class:`BacklogWatch` decides when): a full collection, then ``malloc_trim(0)``.

>>> coordinator_env(max_queued=2_000), coordinator_env(max_queued=11_000)
({}, {'PYTHONMALLOC': 'malloc'})
>>> watch = BacklogWatch(threshold=3)
>>> for pending in (1, 2, 3, 2, 1):
...     watch.accepted(pending)
>>> watch.drained(pending=1), watch.drained(pending=0), watch.drained(pending=0)
(False, True, False)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time
from typing import Any

log = logging.getLogger("nepse_ray.pool.memory")

#: Requests pending at once from which a drained backlog is worth handing memory back for.
DRAINED_BACKLOG = 1_000
#: The largest bulk lane (``max_queued``) whose coordinator keeps CPython's own allocator.
PYMALLOC_QUEUE = 2_000


def coordinator_env(max_queued: int) -> dict[str, str]:
    """The environment variables of a coordinator's process whose bulk lane holds ``max_queued`` requests: Python's
    objects on glibc's malloc when it can hold more than :data:`PYMALLOC_QUEUE`, so a trim after a backlog gives
    back the pages they held (see the module docstring for the figures)."""
    return {"PYTHONMALLOC": "malloc"} if max_queued > PYMALLOC_QUEUE else {}


class BacklogWatch:
    """Whether a large backlog has just drained: the peak of requests pending since the last time it said so."""

    __slots__ = ("_peak", "threshold")

    def __init__(self, threshold: int = DRAINED_BACKLOG) -> None:
        self.threshold = threshold
        self._peak = 0

    def accepted(self, pending: int) -> None:
        """A request was accepted; ``pending`` are now pending in its lane."""
        self._peak = max(self._peak, pending)

    def drained(self, pending: int) -> bool:
        """True once each time nothing is ``pending`` after at least ``threshold`` requests were pending at once."""
        if self._peak < self.threshold or pending:
            return False
        self._peak = 0
        return True


def release_memory() -> None:
    """Hand memory freed by a drained backlog back to the operating system: a full collection, then a trim of
    glibc's heaps (nothing more on a C library without ``malloc_trim``)."""
    started = time.perf_counter()
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
    log.debug("memory handed back after a backlog in %.0f ms", (time.perf_counter() - started) * 1e3)


def _glibc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only (not musl, not macOS)


_LIBC = _glibc()
