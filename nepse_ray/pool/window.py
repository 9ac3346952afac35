"""``CallWindow``: how many of one facade's bulk calls are at the coordinator at once, bounded on the driver.

Every Ray task sent to an actor is received, queued and scheduled by the actor's process one by one, whatever the
task will do there. A driver that makes 20,000 ``api.remote`` calls at once sends 20,000 tasks, and every call any
driver makes to the coordinator then waits behind their reception: measured on this 2-core machine, a control call
3 s after such a backlog took 15.7 s from that driver (and 13.6 s from a second one), then 3 ms once the backlog
was in.

So each bulk call returns two objects (``PoolCoordinator.call``): its answer, and a marker set when the answer is,
whatever the answer is (a failure is returned as the error Ray would have stored, so the marker never fails with
it). The window keeps the markers of the facade's last ``driver_window`` calls (an option, 1,000), and call *n*
names the marker of call *n - driver_window* as an argument: Ray's caller side holds a task until its arguments
exist, so that call stays in the driver, as plain task state, until the call ``driver_window`` places before it has
ended, and then goes out at once. The answer's ``ObjectRef`` is the user's from the start and works as before
(``ray.get``, ``ray.wait``, ``await``, passed to tasks). Ray sends an async actor's tasks out of order, so a held
call never holds back the facade's control calls (stats, shutdown, interactive calls). A bulk call finds the bulk
lane as it did (accepted, or refused with ``PoolBusyError`` when ``max_queued`` requests are pending) when it
reaches it.

A marker that already exists still costs its call Ray's resolution of an argument (measured with a trivial async
actor: 2,622 calls/s pipelined without an argument, 1,864 with an existing one), and a facade's window stays full
of ended calls' markers once it made ``driver_window`` calls. So when the window is full it asks, at most once
every quarter window of calls, which of its markers have ended (``ended``, one ``ray.wait`` without waiting) and
forgets those: a facade whose earlier calls are done sends its calls without an argument again.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Collection
from typing import Any

#: ``send(after)`` submits one call that waits for ``after`` (None: for nothing) and returns (answer, marker).
Send = Callable[[Any], tuple[Any, Any]]
#: ``ended(markers)``: those of ``markers`` whose calls have ended, found without waiting.
Ended = Callable[[list[Any]], Collection[Any]]


class CallWindow:
    """The markers of one facade's last ``size`` bulk calls, oldest first; thread-safe."""

    def __init__(self, size: int, ended: Ended | None = None) -> None:
        if size < 1:
            raise ValueError(f"a call window holds at least one call, not {size}")
        self._markers: collections.deque[Any] = collections.deque()
        self._size = size
        self._ended = ended
        self._prune_every = max(1, size // 4)
        self._since_pruned = 0
        self._lock = threading.Lock()

    def submit(self, send: Send) -> Any:
        """Send one call after the call ``size`` places before it (if any) and return its answer's ref."""
        with self._lock:  # calls from several threads take their places in the order they are sent
            self._since_pruned += 1
            if len(self._markers) >= self._size and self._since_pruned >= self._prune_every:
                self._prune()
            after = self._markers.popleft() if len(self._markers) >= self._size else None
            answer, marker = send(after)
            self._markers.append(marker)
        return answer

    def _prune(self) -> None:
        """Forget the markers of calls that have ended (under the lock)."""
        self._since_pruned = 0
        if self._ended is None:
            return
        ended = set(self._ended(list(self._markers)))
        if ended:
            self._markers = collections.deque(marker for marker in self._markers if marker not in ended)

    def __len__(self) -> int:
        return len(self._markers)
