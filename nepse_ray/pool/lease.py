"""Leases: worker slots the coordinator grants a caller, who sends one attempt straight to the worker with each.

The pool's lean data path (``direct.py`` on the caller's side, ``Coordinator.lease`` and ``Coordinator.give_back``
on the coordinator's): the coordinator keeps every decision — lanes, fairness between callers, the pool-wide rate
cap, which worker, how many attempts a worker holds, when a worker is lost, how long a request waits before a retry
(``policy.Attempts``) — but page bytes go from the worker to the caller in one hop and never through it.

Three small values travel between them, none carrying a row:

* :class:`Lease`: one worker slot, granted to one caller for one attempt;
* :class:`Grants`: the answer to one lease call, with the handles of the workers it names;
* :class:`GivenBack`: what became of a lease's attempt, reported when the caller gives the lease back (callers
  give leases back in batches), so the coordinator frees the slot and counts the outcome in ``PoolStats``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Literal

#: ``answered``: the attempt's result reached the caller; ``retried``: it failed and the request goes on with a new
#: lease; ``failed``: it failed and the request ends with ``error``; ``cancelled``: the caller stopped waiting (a
#: pull that was interrupted), nothing is counted.
Outcome = Literal["answered", "retried", "failed", "cancelled"]

#: Seconds a lease call waits for a free worker slot before it answers with none (the caller then asks again).
LEASE_WAIT = 1.0


@dataclasses.dataclass(frozen=True, slots=True)
class Lease:
    """One slot of worker ``worker_id``, for one attempt; ``lease_id`` names it when it is given back."""

    lease_id: int
    worker_id: str


@dataclasses.dataclass(frozen=True, slots=True)
class Grants:
    """The leases one lease call got, and the actor handle of every worker they name."""

    leases: tuple[Lease, ...]
    handles: Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class GivenBack:
    """A lease given back: what its attempt came to (see :data:`Outcome`).

    ``endpoint``, ``nbytes`` and ``latency`` (seconds since the request was first asked for) describe an answer (the
    pool's metrics keep latencies by endpoint); ``error`` is the request's final error when it ``failed``; ``lost``
    is the ``RayActorError`` the attempt met when its worker went away, so the coordinator can quarantine or replace
    the worker.
    """

    lease_id: int
    outcome: Outcome
    endpoint: str = ""
    nbytes: int = 0
    latency: float = 0.0
    error: BaseException | None = None
    lost: BaseException | None = None
