"""Who gets the next free worker slot: two lanes, retries first, callers in turn, and the pool-wide rate cap.

Pure: no Ray, no asyncio, and time only from the clock passed in, so tests drive it by hand. The coordinator
pushes a :class:`Ticket` for every attempt that needs a worker slot and, whenever slots free up (or the timer it
set for :meth:`Dispatcher.wake_at` fires), asks :meth:`Dispatcher.grant` which tickets go now::

    >>> dispatcher = Dispatcher()
    >>> dispatcher.push(Ticket("bulk", caller="c1", payload="page 1"))
    >>> dispatcher.push(Ticket("bulk", caller="c1", payload="page 2"))
    >>> dispatcher.push(Ticket("bulk", caller="c2", payload="page 1 of another pull"))
    >>> dispatcher.push(Ticket("interactive", caller="c1", payload="market_open"))
    >>> [ticket.payload for ticket in dispatcher.grant(free_slots=3)[1]]
    ['market_open', 'page 1', 'page 1 of another pull']

Rules, in order:

1. **Lanes.** The interactive lane is served before the bulk lane, so an interactive request waits at most for the
   next free slot, never for the bulk backlog.
2. **Retries first.** Within a lane a retry goes before first attempts: it was accepted earlier and has already
   waited once.
3. **Callers in turn.** Within a lane, first attempts are served round-robin by caller (one caller per facade), each
   caller's in the order it sent them: a caller with 10,000 pages queued does not hold back another caller's 10.
4. **Pool-wide rate cap.** With ``rate_cap`` set, each grant also takes a permit from a token bucket (burst 1), and
   so does every further HTTP request of an attempt already granted (a prove, a fallback, a retry after a 429): those
   ask for ``permits`` alone, without a slot, and go first, since their attempts hold slots already. When tickets
   or permits wait, :meth:`Dispatcher.wake_at` names the moment the next permit is due, and the coordinator sets one
   timer for exactly then (as aiolimiter does) instead of polling.

A ticket whose caller went away is withdrawn in O(1) (:meth:`Dispatcher.withdraw`) and skipped when reached.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Generic, TypeVar

from nepse_ray.nepse.ratelimit import TokenBucket
from nepse_ray.pool.request import LANES, Lane

P = TypeVar("P")


@dataclasses.dataclass(eq=False, slots=True)
class Ticket(Generic[P]):
    """One attempt waiting for a worker slot; ``payload`` is whatever the coordinator hands the slot to."""

    lane: Lane
    caller: str
    payload: P
    retry: bool = False
    waiting: bool = dataclasses.field(default=False, init=False)
    """True from :meth:`Dispatcher.push` until the ticket is granted or withdrawn."""


class _Lane(Generic[P]):
    """One lane: retries in arrival order, then callers in turn, each caller's tickets in arrival order."""

    __slots__ = ("callers", "retries", "size")

    def __init__(self) -> None:
        self.retries: deque[Ticket[P]] = deque()
        self.callers: OrderedDict[str, deque[Ticket[P]]] = OrderedDict()
        self.size = 0

    def push(self, ticket: Ticket[P]) -> None:
        if ticket.retry:
            self.retries.append(ticket)
        else:
            queue = self.callers.get(ticket.caller)
            if queue is None:
                queue = self.callers[ticket.caller] = deque()
            queue.append(ticket)
        self.size += 1

    def pop(self) -> Ticket[P]:
        """The next waiting ticket (the lane must hold one: ``size > 0``); withdrawn ones are dropped on the way."""
        while self.retries:
            ticket = self.retries.popleft()
            if ticket.waiting:
                return self._took(ticket)
        while True:
            caller, queue = self.callers.popitem(last=False)
            while queue:
                ticket = queue.popleft()
                if ticket.waiting:
                    if queue:
                        self.callers[caller] = queue  # back of the rotation
                    return self._took(ticket)

    def _took(self, ticket: Ticket[P]) -> Ticket[P]:
        ticket.waiting = False
        self.size -= 1
        return ticket

    def clear(self) -> list[Ticket[P]]:
        tickets = [t for t in self.retries if t.waiting]
        tickets += [t for queue in self.callers.values() for t in queue if t.waiting]
        for ticket in tickets:
            ticket.waiting = False
        self.retries.clear()
        self.callers.clear()
        self.size = 0
        return tickets


class Dispatcher(Generic[P]):
    """The waiting room in front of the worker slots (rules in the module docstring)."""

    __slots__ = ("_bucket", "_capped", "_clock", "_lanes")

    def __init__(self, rate_cap: float | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._lanes: dict[Lane, _Lane[P]] = {lane: _Lane() for lane in LANES}
        self._clock = clock
        self._bucket = TokenBucket(rate_cap, 1, clock=clock) if rate_cap is not None else None
        self._capped = False

    def push(self, ticket: Ticket[P]) -> None:
        """Queue ``ticket`` in its lane."""
        ticket.waiting = True
        self._lanes[ticket.lane].push(ticket)

    def withdraw(self, ticket: Ticket[P]) -> bool:
        """Take a waiting ticket out (its caller went away); False if it was granted or withdrawn already."""
        if not ticket.waiting:
            return False
        ticket.waiting = False
        self._lanes[ticket.lane].size -= 1
        return True

    def promote(self, ticket: Ticket[P]) -> Ticket[P]:
        """Move a waiting bulk ticket to the interactive lane (an interactive caller now waits for it too).

        Returns the ticket that now stands for the attempt: a new one if it moved, else ``ticket`` itself.
        """
        if ticket.lane == "interactive" or not self.withdraw(ticket):
            return ticket
        moved = Ticket("interactive", ticket.caller, ticket.payload, ticket.retry)
        self.push(moved)
        return moved

    def grant(self, free_slots: int, permits: int = 0) -> tuple[int, list[Ticket[P]]]:
        """How many of the ``permits`` wanted alone are given now, then up to ``free_slots`` tickets to serve now, in
        rule order (each leaves the dispatcher)."""
        granted: list[Ticket[P]] = []
        self._capped = False
        given = 0
        while given < permits and self._permit():
            given += 1
        while given == permits and len(granted) < free_slots:
            lane = next((lane for lane in self._lanes.values() if lane.size), None)
            if lane is None or not self._permit():
                break
            granted.append(lane.pop())
        return given, granted

    def _permit(self) -> bool:
        """Take a permit of the rate cap (always there without one); note when there was none."""
        if self._bucket is None or self._bucket.try_acquire():
            return True
        self._capped = True
        return False

    def wake_at(self) -> float | None:
        """When the pool-wide rate cap next allows a grant, if the last :meth:`grant` stopped for want of a permit."""
        if not self._capped or self._bucket is None:
            return None
        return self._bucket.next_permit_at()

    def waiting(self, lane: Lane | None = None) -> int:
        """Tickets waiting, in one lane or in both."""
        if lane is not None:
            return self._lanes[lane].size
        return sum(queue.size for queue in self._lanes.values())

    def clear(self) -> list[Ticket[P]]:
        """Take every waiting ticket out and return them (the pool is shutting down)."""
        return [ticket for lane in self._lanes.values() for ticket in lane.clear()]
