"""The pool's workers as the coordinator knows them: one state per worker, and every legal change of state in one table.

Pure: no Ray, no asyncio, time passed in. The supervisor (``supervisor.py``) does the I/O — starting actors,
pinging, killing — and records what it learned here; the coordinator takes and frees worker slots here.

A worker's life (:data:`TRANSITIONS`)::

    STARTING --ready--> SERVING --retire--> DRAINING --drained--> RETIRING
       |                  ^  |  ^
    stand by              |  unavailable  revived
       v                  |  v  |
    STANDBY ---promote----+  QUARANTINED

* **starting**: the actor was created and has not answered its first ping;
* **serving**: it takes attempts;
* **standby**: started and proved, takes nothing until a serving worker is lost or the pool scales up, then serves
  at once (``PoolOptions.standby``);
* **quarantined**: an attempt met ``ActorUnavailableError`` (Ray is restarting its process); it takes nothing until
  a ping answers again;
* **draining**: chosen for retirement; it finishes its attempts and takes no new ones;
* **retiring**: idle; it still answers facades' direct session calls for a grace period, then it is killed.

Leaving the fleet (the actor died, failed to start, or its grace ended) is :meth:`Fleet.remove`, from any state.
A change that does not apply to a worker's current state (two attempts reporting the same unavailable worker)
is a no-op that returns False, so racing reports need no checks of their own.
"""

from __future__ import annotations

import dataclasses
import enum
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from nepse_ray.pool.policy import WorkerLoad, choose_worker
from nepse_ray.pool.stats import WorkerStatus


class WorkerState(enum.Enum):
    STARTING = "starting"
    STANDBY = "standby"
    SERVING = "serving"
    QUARANTINED = "quarantined"
    DRAINING = "draining"
    RETIRING = "retiring"


class Change(enum.Enum):
    READY = "ready"
    STAND_BY = "stand by"
    PROMOTE = "promote"
    UNAVAILABLE = "unavailable"
    REVIVED = "revived"
    RETIRE = "retire"
    DRAINED = "drained"


S = WorkerState
#: Every legal change of state: (state, change) -> new state.
TRANSITIONS: Mapping[tuple[WorkerState, Change], WorkerState] = {
    (S.STARTING, Change.READY): S.SERVING,
    (S.STARTING, Change.STAND_BY): S.STANDBY,
    (S.STANDBY, Change.PROMOTE): S.SERVING,
    (S.SERVING, Change.UNAVAILABLE): S.QUARANTINED,
    (S.QUARANTINED, Change.REVIVED): S.SERVING,
    (S.SERVING, Change.RETIRE): S.DRAINING,
    (S.DRAINING, Change.DRAINED): S.RETIRING,
}


@dataclasses.dataclass(eq=False, slots=True)
class Worker:
    """One worker actor: its handle, where it runs, its state and its load."""

    worker_id: str
    handle: Any
    node_id: str | None
    """The node it was placed on, then the node it reports from its first ping on."""
    state: WorkerState = S.STARTING
    state_since: float = 0.0
    inflight: int = 0
    idle_since: float | None = None
    pid: int | None = None
    requests: int = 0
    restarts: int = 0
    standby: bool = False
    """Started to stand by: it stands by once ready, instead of serving."""
    abandoned: dict[int, float] = dataclasses.field(default_factory=dict)
    """Attempts that timed out or lost their caller but still hold a slot: attempt number -> when abandoned."""

    def load(self) -> WorkerLoad:
        return WorkerLoad(self.worker_id, self.inflight, self.idle_since, self.state is S.SERVING)

    def status(self) -> WorkerStatus:
        return WorkerStatus(
            worker_id=self.worker_id,
            state=self.state.value,
            node_id=self.node_id,
            pid=self.pid,
            inflight=self.inflight,
            healthy=self.state is not S.QUARANTINED,
            draining=self.state in (S.DRAINING, S.RETIRING),
            requests=self.requests,
            restarts=self.restarts,
        )


class Fleet:
    """Every worker of the pool by id, each in one :class:`WorkerState`, with ``capacity`` slots per worker."""

    __slots__ = ("_workers", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._workers: dict[str, Worker] = {}

    # ---------------------------------------------------------------- membership and state

    def add(self, worker_id: str, handle: Any, node_id: str | None, now: float, standby: bool = False) -> Worker:
        """A new worker in state ``starting`` (to stand by once ready with ``standby``); ``worker_id`` must be new to
        the fleet (the supervisor numbers them)."""
        worker = Worker(worker_id, handle, node_id, state_since=now, standby=standby)
        self._workers[worker_id] = worker
        return worker

    def holds(self, worker: Worker) -> bool:
        """Whether ``worker`` is still in the fleet (and not an older worker under a reused handle)."""
        return self._workers.get(worker.worker_id) is worker

    def apply(self, worker: Worker, change: Change, now: float) -> bool:
        """Move ``worker`` by ``change`` if :data:`TRANSITIONS` allows it from its state; False (no-op) if not."""
        target = TRANSITIONS.get((worker.state, change))
        if target is None or not self.holds(worker):
            return False
        worker.state = target
        worker.state_since = now
        worker.standby = target in (S.STARTING, S.STANDBY) and worker.standby
        if target is S.SERVING and worker.inflight == 0 and worker.idle_since is None:
            worker.idle_since = now
        return True

    def remove(self, worker: Worker) -> bool:
        """Take ``worker`` out of the fleet; False if it was not in it."""
        if not self.holds(worker):
            return False
        del self._workers[worker.worker_id]
        return True

    def remove_all(self) -> list[Worker]:
        workers = list(self._workers.values())
        self._workers.clear()
        return workers

    # ---------------------------------------------------------------- slots

    def pick(self) -> Worker | None:
        """The least-loaded serving worker with a free slot (ties: lowest id), or None."""
        chosen = choose_worker([w.load() for w in self.in_state(S.SERVING)], self.capacity)
        return None if chosen is None else self._workers[chosen]

    def free_slots(self) -> int:
        return sum(self.capacity - w.inflight for w in self.in_state(S.SERVING) if w.inflight < self.capacity)

    def occupy(self, worker: Worker) -> None:
        worker.inflight += 1
        worker.idle_since = None

    def release(self, worker: Worker, now: float) -> bool:
        """Free one slot of ``worker``; True if that left a draining worker idle (it is now ``retiring``)."""
        worker.inflight -= 1
        if worker.inflight:
            return False
        worker.idle_since = now
        return self.apply(worker, Change.DRAINED, now)

    # ---------------------------------------------------------------- views

    def in_state(self, *states: WorkerState) -> list[Worker]:
        return [w for w in self._workers.values() if w.state in states]

    def count(self, *states: WorkerState) -> int:
        return sum(1 for w in self._workers.values() if w.state in states)

    def __iter__(self) -> Iterator[Worker]:
        return iter(list(self._workers.values()))

    def __len__(self) -> int:
        return len(self._workers)

    def loads(self) -> list[WorkerLoad]:
        """The serving workers' loads, for :func:`~nepse_ray.pool.policy.decide_scaling`."""
        return [w.load() for w in self.in_state(S.SERVING)]

    def pending_starts(self) -> int:
        """Workers on their way to serving: starting (not to stand by), or quarantined while Ray restarts them."""
        return sum(1 for w in self.in_state(S.STARTING) if not w.standby) + self.count(S.QUARANTINED)

    def standby(self) -> Worker | None:
        """The worker standing by or starting to, if any."""
        return next((w for w in self._workers.values() if w.standby), None)

    def wants_standby(self, max_workers: int) -> bool:
        """Whether a standby would fit: none yet, and fewer than ``max_workers`` workers serve or are on their way."""
        return self.standby() is None and self.count(S.STARTING, S.SERVING, S.QUARANTINED) < max_workers

    def choose_node(self, alive_nodes: Sequence[str]) -> str | None:
        """The alive node holding the fewest of this pool's workers (ties: the first listed), or None if none.

        Retiring workers do not count: they are on their way out. Placing every new worker this way keeps the
        fleet spread evenly over the nodes, so each node's traffic (and address) carries an equal share.
        """
        if not alive_nodes:
            return None
        held = Counter(w.node_id for w in self._workers.values() if w.state is not S.RETIRING)
        return min(alive_nodes, key=lambda node: held[node])

    def statuses(self) -> tuple[WorkerStatus, ...]:
        return tuple(w.status() for w in self._workers.values())
