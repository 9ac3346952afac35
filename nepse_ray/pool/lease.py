"""Leases: worker slots the coordinator grants a caller, who sends one attempt straight to the worker with each.

The pool's lean data path (``direct.py`` on the caller's side, ``Coordinator.lease`` and ``Coordinator.give_back``
on the coordinator's): the coordinator keeps every decision — lanes, fairness between callers, the pool-wide rate
cap, which worker, how many attempts a worker holds, when a worker is lost, how long a request waits before a retry
(``policy.Attempts``) — but page bytes go from the worker to the caller in one hop and never through it.

Small values travel between them, none carrying a row:

* :class:`Ask`: one lease call — how many slots a caller wants, which worker handles it holds already (and of
  which coordinator life), and on its first call to a coordinator life, its presence;
* :class:`Grants`: the answer to one lease call, with the handles of the workers it names and the coordinator's life;
* :class:`GivenBack`: what became of a lease's attempt, reported when the caller gives the lease back (callers
  give leases back in batches, :class:`Returns`, with their running :class:`Tally`), so the coordinator frees the
  slot and counts the outcome in ``PoolStats``.

:class:`LeaseBook` is the coordinator's record of the leases out, pure and clock-driven: when a slot comes back
(given back, or its caller found gone), when a lease is overdue, and whose callers to check on.

A caller's **presence** is an object it put into Ray's object store; Ray knows its owner, so when the caller's
process dies (a driver SIGKILLed, a notebook kernel restarted), reading it raises ``OwnerDiedError``. The
coordinator reads the presence of each caller that holds leases for more than :data:`PROBE_AFTER` seconds, at most
every :data:`PROBE_EVERY` seconds, and returns a gone caller's slots at once: its attempts, if any still run, end
first in the worker's queue (a worker actor runs at most its slots at a time).

A caller that stops waiting with attempts still running (``DirectRequests.close``) gives their leases back as
``running``: their slots stay taken until the lease is ``task_timeout`` old, by when a healthy worker's attempt has
ended, so a worker never takes more attempts than its slots.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Literal, TypeVar

#: ``answered``: the attempt's result reached the caller; ``retried``: it failed and the request goes on with a new
#: lease; ``failed``: it failed and the request ends with ``error``; ``cancelled``: the caller stopped waiting (a
#: pull that was interrupted), nothing is counted.
Outcome = Literal["answered", "retried", "failed", "cancelled"]

#: Seconds a lease call waits for a free worker slot before it answers with none (the caller then asks again).
LEASE_WAIT = 1.0
#: Seconds a caller holds a lease before the coordinator checks that it is still alive, and between two checks.
PROBE_AFTER = 2.0
PROBE_EVERY = 1.0

W = TypeVar("W")


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """One slot of worker ``worker_id``, for one attempt; ``lease_id`` names it when it is given back."""

    lease_id: int
    worker_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Ask:
    """One lease call of a caller on the direct path.

    ``caller`` is the facade (the dispatcher's unit of fairness), ``requester`` the one ``DirectRequests`` that
    asks (leases, tallies and presence are its own). ``known`` are the worker ids whose handles it holds from
    coordinator life ``life`` (0: none yet); ``presence`` (a list holding one ``ObjectRef`` the requester owns)
    comes with its first call to each coordinator life.
    """

    caller: str
    requester: str
    wanted: int
    retries: int = 0
    known: frozenset[str] = frozenset()
    life: int = 0
    presence: list[Any] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Grants:
    """The leases one lease call got, the actor handle of every worker they name that the caller did not know, and
    the coordinator's ``life`` (the caller drops the handles it holds when it changes)."""

    leases: tuple[Lease, ...]
    handles: Mapping[str, Any]
    life: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class GivenBack:
    """A lease given back: what its attempt came to (see :data:`Outcome`).

    ``endpoint``, ``nbytes`` and ``latency`` (seconds since the request was first asked for) describe an answer (the
    pool's metrics keep latencies by endpoint); ``error`` is the request's final error when it ``failed``; ``lost``
    is the ``RayActorError`` the attempt met when its worker went away, so the coordinator can quarantine or replace
    the worker; ``running`` says the attempt had not ended when its caller stopped waiting.
    """

    lease_id: int
    outcome: Outcome
    endpoint: str = ""
    nbytes: int = 0
    latency: float = 0.0
    error: BaseException | None = None
    lost: BaseException | None = None
    running: bool = False


@dataclasses.dataclass(slots=True)
class Tally:
    """What a requester's given-back leases came to since it started: the coordinator counts ``PoolStats`` from the
    difference between two tallies, so a give-back counted twice (Ray retries a call across a coordinator restart)
    or lost (counted by a coordinator life that died before recording it) comes out right.

    >>> tally = Tally()
    >>> tally.add(GivenBack(1, "answered", nbytes=10)); tally.add(GivenBack(2, "failed", error=ValueError()))
    >>> tally.minus(Tally(answered=1, result_bytes=10))
    Tally(answered=0, retried=0, failed={'ValueError': 1}, result_bytes=0)
    """

    answered: int = 0
    retried: int = 0
    failed: dict[str, int] = dataclasses.field(default_factory=dict)
    """Requests that ended with an error, by the error's class name."""
    result_bytes: int = 0

    def add(self, back: GivenBack) -> None:
        if back.outcome == "answered":
            self.answered += 1
            self.result_bytes += back.nbytes
        elif back.outcome == "retried":
            self.retried += 1
        elif back.outcome == "failed":
            kind = type(back.error).__name__ if back.error is not None else "PoolError"
            self.failed[kind] = self.failed.get(kind, 0) + 1

    def minus(self, earlier: Tally) -> Tally:
        """What this tally counts beyond ``earlier`` (never below zero)."""
        failed = {k: n - earlier.failed.get(k, 0) for k, n in self.failed.items() if n > earlier.failed.get(k, 0)}
        return Tally(
            max(0, self.answered - earlier.answered),
            max(0, self.retried - earlier.retried),
            failed,
            max(0, self.result_bytes - earlier.result_bytes),
        )

    def copy(self) -> Tally:
        return Tally(self.answered, self.retried, dict(self.failed), self.result_bytes)

    @classmethod
    def of(cls, returned: Iterable[GivenBack]) -> Tally:
        tally = cls()
        for back in returned:
            tally.add(back)
        return tally


@dataclasses.dataclass(frozen=True, slots=True)
class Returns:
    """Leases one requester gives back in one call, with its running tally (this call's leases included)."""

    requester: str
    leases: tuple[GivenBack, ...]
    tally: Tally
    final: bool = False
    """The requester closed: nothing more comes from it."""


@dataclasses.dataclass(eq=False, slots=True)
class Leased(Generic[W]):
    """A lease out: its worker, its requester, since when, whether it outlived ``task_timeout``, and, once given back
    while its attempt still ran, when its slot comes free."""

    lease_id: int
    worker: W
    requester: str
    since: float
    overdue: bool = False
    free_at: float | None = None


class LeaseBook(Generic[W]):
    """The leases out and their requesters' presences (see the module docstring); ``W`` is the coordinator's worker.

    Lease ids start at random, so a lease granted before a restart of the coordinator is never taken for one
    granted after it.
    """

    __slots__ = ("_ids", "_leases", "_presence", "_probed", "_task_timeout")

    def __init__(self, task_timeout: float) -> None:
        self._task_timeout = task_timeout
        self._leases: dict[int, Leased[W]] = {}
        self._ids = itertools.count(secrets.randbits(48) << 16)
        self._presence: dict[str, Any] = {}
        self._probed: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._leases)

    def introduce(self, requester: str, presence: Any) -> None:
        """Remember ``requester``'s presence (an ``ObjectRef`` it owns)."""
        self._presence[requester] = presence

    def grant(self, worker: W, requester: str, now: float) -> int:
        """Record a new lease on ``worker`` and return its id."""
        lease_id = next(self._ids)
        self._leases[lease_id] = Leased(lease_id, worker, requester, now)
        return lease_id

    def give_back(self, back: GivenBack, now: float) -> Leased[W] | None:
        """The lease given back, or None if it is not out (given back twice, or granted by an earlier coordinator
        life). A ``running`` one stays out until it is ``task_timeout`` old (:meth:`due`)."""
        leased = self._leases.get(back.lease_id)
        if leased is None or leased.free_at is not None:
            return None
        if back.running and now < leased.since + self._task_timeout:
            leased.free_at = leased.since + self._task_timeout
        else:
            del self._leases[back.lease_id]
        return leased

    def due(self, now: float) -> list[Leased[W]]:
        """Leases given back while their attempts ran, whose slots come free now."""
        freed = [leased for leased in self._leases.values() if leased.free_at is not None and leased.free_at <= now]
        for leased in freed:
            del self._leases[leased.lease_id]
        return freed

    def overdue(self, now: float) -> list[Leased[W]]:
        """Leases held (not given back) for more than ``task_timeout`` that were not reported before: their attempt
        counts as abandoned on a worker that does not answer."""
        late = [
            leased
            for leased in self._leases.values()
            if not leased.overdue and leased.free_at is None and now - leased.since > self._task_timeout
        ]
        for leased in late:
            leased.overdue = True
        return late

    def to_probe(self, now: float) -> list[tuple[str, Any]]:
        """Requesters (with their presence) holding a lease for more than :data:`PROBE_AFTER` seconds and not
        checked in the last :data:`PROBE_EVERY` seconds; each is marked checked now."""
        holding = {
            leased.requester
            for leased in self._leases.values()
            if leased.free_at is None and now - leased.since > PROBE_AFTER
        }
        due = [
            requester
            for requester in holding
            if requester in self._presence and now - self._probed.get(requester, -PROBE_EVERY) >= PROBE_EVERY
        ]
        for requester in due:
            self._probed[requester] = now
        for requester in set(self._probed) - holding:  # nothing held: check again from scratch next time
            del self._probed[requester]
        return [(requester, self._presence[requester]) for requester in due]

    def forget(self, requester: str) -> None:
        """``requester`` is done (it closed): its presence is no longer needed."""
        self._presence.pop(requester, None)
        self._probed.pop(requester, None)

    def gone(self, requester: str) -> list[Leased[W]]:
        """``requester``'s process died: forget it, and return its leases (their slots come free now)."""
        self.forget(requester)
        return self.drop(lambda leased: leased.requester == requester)

    def drop(self, which: Callable[[Leased[W]], bool]) -> list[Leased[W]]:
        """Take the leases ``which`` selects out of the book and return them."""
        dropped = [leased for leased in self._leases.values() if which(leased)]
        for leased in dropped:
            del self._leases[leased.lease_id]
        return dropped
