"""``LeaseDesk``: the coordinator's side of the direct path — leases out, leases back, callers that died.

Callers on the direct path (``direct.py``) ask for worker slots as leases and give them back after their attempts;
the values they exchange and the pure record of what is out are in ``lease.py``. The desk is the glue on the
coordinator's home loop: it queues a lease call's tickets in the dispatcher (bulk lane, the caller's turn, the rate
cap), answers with the slots granted and the handles the caller lacks, frees the slots given back, counts what the
attempts came to from the caller's tally (``Ledger.settle``), reports workers lost under an attempt to the
supervisor, and on every scaling tick:

* frees the slots of leases given back while their attempts ran, once those must have ended (``task_timeout``);
* forgets the leases of workers that left the fleet;
* counts a lease out past ``task_timeout`` as an abandoned attempt (its worker is replaced if it stays out twice that
  long more, as for the coordinator's own attempts);
* reads the presence of each caller holding leases for a while, and frees the slots of one whose process died.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ray.exceptions import OwnerDiedError, RayActorError

from nepse_ray.pool.dispatch import Dispatcher, Ticket
from nepse_ray.pool.errors import PoolShutdownError
from nepse_ray.pool.fleet import Fleet, Worker
from nepse_ray.pool.lease import LEASE_WAIT, Ask, Grants, Lease, LeaseBook, Leased, Returns
from nepse_ray.pool.ledger import Ledger
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.recorder import Recorder
from nepse_ray.pool.supervisor import Supervisor, awaited

log = logging.getLogger("nepse_ray.pool.lease_desk")

#: Seconds to wait for a caller's presence before taking the caller for alive.
PROBE_TIMEOUT = 5.0


class LeaseDesk:
    """Leases of one pool's worker slots (see the module docstring); ``grant()`` hands free slots out, ``release``
    frees one, ``closing()`` says the pool is shutting down. Runs on the coordinator's home loop."""

    def __init__(
        self,
        options: PoolOptions,
        dispatcher: Dispatcher[asyncio.Future[Worker]],
        fleet: Fleet,
        recorder: Recorder,
        supervisor: Supervisor,
        ledger: Ledger,
        *,
        grant: Callable[[], None],
        release: Callable[[Worker], None],
        closing: Callable[[], bool],
        clock: Callable[[], float],
    ) -> None:
        self._options = options
        self._dispatcher = dispatcher
        self._fleet = fleet
        self._recorder = recorder
        self._supervisor = supervisor
        self._ledger = ledger
        self._grant = grant
        self._release = release
        self._closing = closing
        self._clock = clock
        self._book: LeaseBook[Worker] = LeaseBook(options.task_timeout)
        self._probes: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        """Leases out (their slots taken)."""
        return len(self._book)

    async def lease(self, ask: Ask) -> Grants:
        """Up to ``ask.wanted`` bulk-lane worker slots for ``ask.caller`` (the first ``ask.retries`` of them for
        retries), with the handles of the workers granted that the requester does not know from this life.

        Answers as soon as the dispatcher grants at least one (every slot it grants at that moment comes along), or
        with none after :data:`LEASE_WAIT` seconds. Raises :class:`PoolShutdownError` once the pool is closing, or
        why no worker can start.
        """
        if self._closing():
            raise PoolShutdownError()
        if ask.presence:
            self._book.introduce(ask.requester, ask.presence[0])
        loop, queued_at = asyncio.get_running_loop(), self._clock()
        tickets = [Ticket("bulk", ask.caller, loop.create_future(), n < ask.retries) for n in range(ask.wanted)]
        for ticket in tickets:
            self._dispatcher.push(ticket)
        self._grant()
        try:
            if tickets:
                await asyncio.wait([t.payload for t in tickets], timeout=LEASE_WAIT, return_when="FIRST_COMPLETED")
        except asyncio.CancelledError:
            for worker in self._settle(tickets):
                self._release(worker)
            raise
        workers = self._settle(tickets)
        now = self._clock()
        known = ask.known if ask.life == self._ledger.life else frozenset()
        leases = []
        for worker in workers:
            self._recorder.waited("bulk", now - queued_at)
            leases.append(Lease(self._book.grant(worker, ask.requester, now), worker.worker_id))
        handles = {w.worker_id: w.handle for w in workers if w.worker_id not in known}
        return Grants(tuple(leases), handles, self._ledger.life)

    def _settle(self, tickets: list[Ticket[asyncio.Future[Worker]]]) -> list[Worker]:
        """The workers granted to ``tickets``; the others are withdrawn. Raises why none could be granted, if known."""
        workers, error = [], None
        for ticket in tickets:
            if self._dispatcher.withdraw(ticket) or ticket.payload.cancelled():
                continue
            if ticket.payload.done():
                failure = ticket.payload.exception()
                if failure is None:
                    workers.append(ticket.payload.result())
                else:
                    error = failure
        if error is not None and not workers:
            raise error
        return workers

    def give_back(self, returns: Returns) -> None:
        """Free the slots of leases given back (later, for attempts still running) and count what the requester's
        attempts came to, from its tally (``Ledger.settle``)."""
        now = self._clock()
        for back in returns.leases:
            if back.outcome == "answered":
                self._recorder.latency(back.endpoint, back.latency)
            leased = self._book.give_back(back, now)
            if leased is None:  # given back twice, or granted before a restart of this coordinator
                continue
            worker = leased.worker
            worker.abandoned.pop(back.lease_id, None)
            if back.outcome != "cancelled":
                worker.requests += 1
            if isinstance(back.lost, RayActorError):
                self._supervisor.lost(worker, back.lost)
            if leased.free_at is None:
                self._release(worker)
        self._recorder.tallied(self._ledger.settle(returns.requester, returns.tally, returns.leases, now))
        if returns.final:
            self._book.forget(returns.requester)

    def tick(self) -> None:
        """Free the slots that are due, count overdue leases, check on the callers holding leases (module docstring)."""
        now = self._clock()
        for leased in self._book.due(now):
            self._free(leased)
        self._book.drop(lambda leased: not self._fleet.holds(leased.worker))
        for leased in self._book.overdue(now):
            leased.worker.abandoned[leased.lease_id] = now
            self._recorder.timed_out()
        for requester, presence in self._book.to_probe(now):
            probe = asyncio.get_running_loop().create_task(self._probe(requester, presence))
            self._probes.add(probe)
            probe.add_done_callback(self._probes.discard)

    async def _probe(self, requester: str, presence: Any) -> None:
        """Read ``requester``'s presence: if its owner died, the requester is gone and its slots come back now."""
        try:
            await asyncio.wait_for(awaited(presence), PROBE_TIMEOUT)
        except OwnerDiedError:
            gone = self._book.gone(requester)
            log.warning(
                "pool %s: a caller holding %d lease(s) is gone; their slots are free again",
                self._options.pool_name,
                len(gone),
            )
            self._recorder.stale_cleaned(len(gone))
            for leased in gone:
                self._free(leased)
        except Exception:  # no answer in time, or any other trouble reading it: the caller may well be alive
            return

    def _free(self, leased: Leased[Worker]) -> None:
        leased.worker.abandoned.pop(leased.lease_id, None)
        if self._fleet.holds(leased.worker):
            self._release(leased.worker)

    def stop(self) -> None:
        """Stop checking on callers (the pool is shutting down)."""
        for probe in list(self._probes):
            probe.cancel()
