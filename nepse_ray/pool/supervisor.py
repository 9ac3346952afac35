"""``Supervisor``: the I/O behind the fleet — starting, pinging, quarantining, replacing, retiring and scaling workers.

The decisions are pure and live elsewhere: which state a worker may move to (``fleet.py``), how many workers the
backlog wants (``policy.decide_scaling``), which node a new worker goes to (``Fleet.choose_node``). The supervisor
carries them out on the coordinator's home event loop, through a launcher (Ray in production, a fake in tests):

* **start**: each new worker gets the next number ``n`` (worker ``w<n>`` in ``PoolStats``, actor
  ``<pool>-worker-<n>`` in the pool's namespace, so ``ray list actors`` and the dashboard read well). Numbers go on
  across restarts of the coordinator (the ledger keeps the next one, ``ledger.py``), so no worker id is used twice;
  a number whose name is still taken is skipped. The worker goes to the alive node
  holding the fewest of the pool's workers (node affinity, so
  placement is deterministic rather than Ray's best-effort SPREAD), then must answer a ping within
  :data:`START_TIMEOUT`; a worker that cannot start is removed, its reason kept for ``ready()``, and further starts
  back off (a worker whose node died before it was placed is simply placed again);
* **stand by** (``PoolOptions.standby``): while fewer than ``max_workers`` workers serve, one more is started and its
  tokens proved, and takes nothing; when a serving worker is lost, or the policy adds a worker, it serves at once,
  and another is started to stand by. A worker on this node whose process ends is known lost as it ends
  (``process_watch.py``; Ray tells its callers after about 1.4 s): its attempts go elsewhere at once;
* **quarantine**: a worker whose attempt met ``ActorUnavailableError`` (Ray is restarting its process) takes nothing
  until a ping answers again; after :data:`QUARANTINE_LIMIT` it is replaced;
* **replace**: a worker that died for good is removed and a new one started;
* **retire**: an idle worker chosen by the scaling policy drains, then keeps answering facades' direct session
  calls for ``retire_grace`` seconds (they refresh their list every ``SESSION_REFRESH`` seconds) before it is
  killed;
* **tick**: every ``scale_interval`` the scaling policy runs on the fleet's loads, and workers wedged on an attempt
  abandoned more than twice ``task_timeout`` ago are replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from ray.exceptions import (
    ActorAlreadyExistsError,
    ActorUnavailableError,
    ActorUnschedulableError,
    RayActorError,
    RayError,
)

from nepse_ray.nepse.errors import NepseError
from nepse_ray.pool.errors import PoolError, original_error
from nepse_ray.pool.fleet import Change, Fleet, Worker, WorkerState
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import RetryPolicy, ScalingConfig, ScalingState, decide_scaling
from nepse_ray.pool.recorder import Recorder

log = logging.getLogger("nepse_ray.pool.supervisor")

#: Seconds a facade may use its list of session workers before asking again.
SESSION_REFRESH = 1.0
#: Seconds a retired worker keeps answering direct session calls before it is killed (> SESSION_REFRESH).
SESSION_GRACE = 3.0
#: Seconds a new worker may take to answer its first ping (process start, imports, client construction).
START_TIMEOUT = 60.0
#: Seconds a quarantined worker may take to come back before it is replaced (Ray restarts take about one).
QUARANTINE_LIMIT = 30.0
_PING_TIMEOUT = 10.0
_REVIVE_INTERVAL = 0.5


class Launcher(Protocol):
    """Creates and kills worker actors; the supervisor's only contact with Ray's scheduler."""

    def alive_nodes(self) -> list[str]: ...

    def start(self, options: PoolOptions, node_id: str | None, number: int) -> Any:
        """A new worker actor for ``options`` on ``node_id``, named after ``number``; ``ActorAlreadyExistsError`` if
        that name is still taken."""
        ...

    def kill(self, handle: Any) -> None: ...

    def watch_process(self, node_id: str | None, pid: int, on_gone: Callable[[], None]) -> Callable[[], None] | None:
        """Call ``on_gone()`` once process ``pid`` on ``node_id`` ends; returns what ends the watch, or None when
        that process's end cannot be seen from here."""
        ...


class Supervisor:
    """Keeps the fleet at the size the backlog wants, healthy, and spread over the nodes (see the module docstring).

    ``on_capacity()`` is called whenever worker slots may have become free (a worker came up or came back);
    ``on_no_workers(error)`` when a worker failed to start and none serves, so waiting requests can fail with the
    reason instead of waiting forever; ``on_numbered(next_number)`` when a worker number is taken. Numbers start at
    ``first_number``.
    """

    def __init__(
        self,
        options: PoolOptions,
        launcher: Launcher,
        fleet: Fleet,
        recorder: Recorder,
        *,
        on_capacity: Callable[[], None],
        on_no_workers: Callable[[NepseError], None],
        on_numbered: Callable[[int], None] = lambda _: None,
        first_number: int = 1,
        retire_grace: float = SESSION_GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._options = options
        self._launcher = launcher
        self._fleet = fleet
        self._recorder = recorder
        self._on_capacity = on_capacity
        self._on_no_workers = on_no_workers
        self._retire_grace = retire_grace
        self._clock = clock
        self._scaling = ScalingConfig.from_options(options)
        self._scale_state = ScalingState()
        self._start_backoff = RetryPolicy.from_options(options).backoff
        self._rng = random.Random()
        self._numbers = itertools.count(first_number)
        self._on_numbered = on_numbered
        self._background: set[asyncio.Task[None]] = set()
        self._start_failures = 0
        self._starts_blocked_until = 0.0
        self._stopped = False
        self._lost_signals: dict[str, asyncio.Future[None]] = {}
        self._watches: dict[str, Callable[[], None]] = {}
        """What ends the watch on the process of each worker on this node."""
        self.start_error: NepseError | None = None
        """Why the last worker failed to start, until one starts."""

    # ---------------------------------------------------------------- starting

    def start_workers(self, count: int, standby: bool = False) -> None:
        """Start ``count`` workers (to stand by with ``standby``), each on the alive node that holds the fewest of the
        pool's workers."""
        nodes = self._launcher.alive_nodes() if count else []
        for _ in range(count):
            node = self._fleet.choose_node(nodes)
            number, handle = self._launch(node)
            worker = self._fleet.add(f"w{number}", handle, node, self._clock(), standby=standby)
            log.info("pool %s: starting worker %s on node %s", self._options.pool_name, worker.worker_id, node)
            self._spawn(self._await_ready(worker))

    def _launch(self, node: str | None) -> tuple[int, Any]:
        """A new worker actor and its number: the next one whose actor name is free.

        ``on_numbered`` hears of each number taken before the worker is created, so a restart never gives it again.
        Each try is one name lookup in Ray's GCS.
        """
        while True:
            number = next(self._numbers)
            self._on_numbered(number + 1)
            try:
                return number, self._launcher.start(self._options, node, number)
            except ActorAlreadyExistsError:
                log.info("pool %s: worker name %d is still taken; taking the next", self._options.pool_name, number)

    async def _await_ready(self, worker: Worker) -> None:
        try:
            info = await asyncio.wait_for(awaited(worker.handle.ping.remote()), START_TIMEOUT)
            if worker.standby:  # each of its tokens proved now, not on its first request
                tokens = range(self._options.tokens_per_worker)
                proves = [awaited(worker.handle.session.remote("get_access_token")) for _ in tokens]
                await asyncio.wait_for(asyncio.gather(*proves), START_TIMEOUT)
        except ActorUnschedulableError:  # its node died before it was placed: the next tick places another
            self._fleet.remove(worker)
            log.warning(
                "pool %s: the node of worker %s is gone; placing another", self._options.pool_name, worker.worker_id
            )
            return
        except (RayError, NepseError, asyncio.TimeoutError) as error:
            self._failed_to_start(worker, error)
            await self._kill(worker)
            return
        self.start_error = None
        self._start_failures = 0
        self.note_ping(worker, info)
        if worker.standby and self._fleet.apply(worker, Change.STAND_BY, self._clock()):
            log.info(
                "pool %s: worker %s stands by on node %s", self._options.pool_name, worker.worker_id, worker.node_id
            )
        elif self._fleet.apply(worker, Change.READY, self._clock()):
            log.info("pool %s: worker %s ready on node %s", self._options.pool_name, worker.worker_id, worker.node_id)
            self._on_capacity()

    def _failed_to_start(self, worker: Worker, error: BaseException) -> None:
        """Keep the reason (a NepseError from the worker's client as itself), back off, fail waiters if none serve.

        Any other reason (the worker did not answer in time on a busy host, or died while it started) is retryable:
        the supervisor keeps starting workers, so a pull's later round finds them.
        """
        cause = original_error(error)
        if isinstance(cause, NepseError):
            self.start_error = cause
        else:
            last_line = str(error).strip().splitlines()[-1] if str(error).strip() else ""
            self.start_error = PoolError(
                f"a worker of pool {self._options.pool_name!r} failed to start ({type(error).__name__}: {last_line}); "
                "the pool keeps starting workers",
                retryable=True,
            )
        log.error("pool %s: worker %s failed to start: %s", self._options.pool_name, worker.worker_id, error)
        self._fleet.remove(worker)
        self._start_failures += 1
        self._starts_blocked_until = self._clock() + self._start_backoff.delay(self._start_failures - 1, self._rng)
        if not self._fleet.count(WorkerState.SERVING):
            self._on_no_workers(self.start_error)

    def note_ping(self, worker: Worker, info: dict[str, Any]) -> None:
        """Record where a worker runs and notice a restart of its process (its pid changed)."""
        pid: int = info["pid"]
        if worker.pid is not None and pid != worker.pid:
            worker.restarts += 1
            self._recorder.worker_restarted()
            log.warning("pool %s: worker %s was restarted by Ray", self._options.pool_name, worker.worker_id)
        moved = pid != worker.pid
        worker.pid = pid
        worker.node_id = info["node_id"]
        if moved:
            self._watch(worker, pid)

    # ---------------------------------------------------------------- failures

    def lost(self, worker: Worker, error: RayActorError | None) -> None:
        """``worker`` is lost: an attempt met ``error``, or its process is gone (None). The standby serves in its
        place; the worker is quarantined if Ray may be restarting it, else replaced."""
        signal = self._lost_signals.pop(worker.worker_id, None)
        if signal is not None and not signal.done():
            signal.set_result(None)
        if worker.state is WorkerState.SERVING:
            self._promote_standby()
        if worker.state is not WorkerState.STANDBY and (error is None or isinstance(error, ActorUnavailableError)):
            self._quarantine(worker)
        else:
            self.replace(worker)

    def lost_signal(self, worker: Worker) -> asyncio.Future[None]:
        """Set once ``worker``'s process is known lost: its attempts in flight will not be answered."""
        signal = self._lost_signals.get(worker.worker_id)
        if signal is None:
            signal = self._lost_signals[worker.worker_id] = asyncio.get_running_loop().create_future()
        return signal

    def _watch(self, worker: Worker, pid: int) -> None:
        """Watch process ``pid``, the one ``worker`` runs in now (a restarted worker's new one: the old watch ends),
        if its end can be seen here."""
        self._unwatch(worker)
        cancel = self._launcher.watch_process(worker.node_id, pid, lambda: self._process_ended(worker, pid))
        if cancel is not None:
            self._watches[worker.worker_id] = cancel

    def _unwatch(self, worker: Worker) -> None:
        cancel = self._watches.pop(worker.worker_id, None)
        if cancel is not None:
            cancel()

    def _process_ended(self, worker: Worker, pid: int) -> None:
        """Process ``pid`` of ``worker`` ended (its watch, since an ended watch never calls): lost, if it still serves
        or stands by in it (a worker Ray is restarting, retiring or already replaced is someone else's business)."""
        self._watches.pop(worker.worker_id, None)
        serving = worker.state in (WorkerState.SERVING, WorkerState.STANDBY)
        if self._fleet.holds(worker) and worker.pid == pid and serving:
            log.warning("pool %s: worker %s's process is gone", self._options.pool_name, worker.worker_id)
            self.lost(worker, None)

    def _promote_standby(self) -> bool:
        """Let the worker standing by serve; True if there was one ready."""
        worker = self._fleet.standby()
        if worker is None or not self._fleet.apply(worker, Change.PROMOTE, self._clock()):
            return False
        log.info("pool %s: worker %s serves (it stood by)", self._options.pool_name, worker.worker_id)
        self._on_capacity()
        return True

    def _quarantine(self, worker: Worker) -> None:
        if self._fleet.apply(worker, Change.UNAVAILABLE, self._clock()):
            self._recorder.worker_quarantined()
            log.warning("pool %s: worker %s is unavailable; quarantined", self._options.pool_name, worker.worker_id)
            self._spawn(self._revive(worker))

    async def _revive(self, worker: Worker) -> None:
        """Re-ping a quarantined worker until it answers (serving again) or is dead or gone too long (replaced)."""
        while self._fleet.holds(worker) and worker.state is WorkerState.QUARANTINED:
            try:
                info = await asyncio.wait_for(awaited(worker.handle.ping.remote()), _PING_TIMEOUT)
            except (ActorUnavailableError, asyncio.TimeoutError):
                if self._clock() - worker.state_since > QUARANTINE_LIMIT:
                    self.replace(worker, f"stayed unavailable for {QUARANTINE_LIMIT:g} s")
                    return
                await asyncio.sleep(_REVIVE_INTERVAL)
                continue
            except RayActorError:
                self.replace(worker)
                return
            self.note_ping(worker, info)
            if self._fleet.apply(worker, Change.REVIVED, self._clock()):
                log.info("pool %s: worker %s answers again", self._options.pool_name, worker.worker_id)
                self._on_capacity()
            return

    def replace(self, worker: Worker, why: str = "died") -> None:
        """Remove a dead (or wedged) worker for good and start another, unless the pool has stopped."""
        if not self._fleet.remove(worker):
            return
        self._lost_signals.pop(worker.worker_id, None)
        self._unwatch(worker)
        self._launcher.kill(worker.handle)
        self._recorder.worker_replaced()
        log.warning("pool %s: worker %s %s; starting a replacement", self._options.pool_name, worker.worker_id, why)
        if not self._stopped:
            self.start_workers(1, standby=worker.standby)

    # ---------------------------------------------------------------- retiring

    def drained(self, worker: Worker) -> None:
        """A draining worker finished its last attempt (it is ``retiring`` now): kill it after the grace period."""
        self._spawn(self._kill_after_grace(worker))

    async def _kill_after_grace(self, worker: Worker) -> None:
        await asyncio.sleep(self._retire_grace)
        if self._fleet.remove(worker):
            await self._kill(worker)

    def _retire(self, worker: Worker) -> None:
        if self._fleet.apply(worker, Change.RETIRE, self._clock()) and worker.inflight == 0:
            self._fleet.apply(worker, Change.DRAINED, self._clock())
            self.drained(worker)

    # ---------------------------------------------------------------- scaling

    def tick(self, queued: int) -> None:
        """One scaling round: replace wedged workers, then add or retire workers as the policy decides."""
        now = self._clock()
        self._replace_wedged(now)
        decision = decide_scaling(
            self._scaling, self._fleet.loads(), queued, now, self._scale_state, self._fleet.pending_starts()
        )
        scaled_up = decision.state.last_scale_up_at != self._scale_state.last_scale_up_at
        self._scale_state = decision.state
        if decision.add and (now < self._starts_blocked_until or self._stopped):
            log.debug("pool %s: holding worker starts after a failed start", self._options.pool_name)
        elif decision.add:
            if scaled_up:
                self._recorder.scaled("up", decision.add)
            log.info("pool %s: adding %d worker(s): %s", self._options.pool_name, decision.add, decision.reason)
            self.start_workers(decision.add - self._promote_standby())
        may_start = self._options.standby and not self._stopped and now >= self._starts_blocked_until
        if may_start and self._fleet.wants_standby(self._options.max_workers):
            self.start_workers(1, standby=True)
        if decision.retire:
            self._recorder.scaled("down", len(decision.retire))
            log.info("pool %s: retiring %s: %s", self._options.pool_name, ", ".join(decision.retire), decision.reason)
            retiring = set(decision.retire)
            for worker in self._fleet.in_state(WorkerState.SERVING):
                if worker.worker_id in retiring:
                    self._retire(worker)

    def _replace_wedged(self, now: float) -> None:
        limit = 2 * self._options.task_timeout
        for worker in list(self._fleet):
            if any(now - since > limit for since in worker.abandoned.values()):
                self._recorder.stale_cleaned(len(worker.abandoned))
                self.replace(worker, "is wedged on an abandoned attempt")

    # ---------------------------------------------------------------- reading and stopping

    def serving_handles(self) -> list[Any]:
        return [worker.handle for worker in self._fleet.in_state(WorkerState.SERVING)]

    async def ping_all(self) -> list[dict[str, Any]]:
        """Ping every worker that has started: where it runs, its pid, its client's counters."""
        workers = [w for w in self._fleet if w.state is not WorkerState.STARTING]
        answers = await asyncio.gather(*(awaited(w.handle.ping.remote()) for w in workers), return_exceptions=True)
        infos = []
        for worker, answer in zip(workers, answers, strict=True):
            if isinstance(answer, BaseException):
                infos.append({"worker_id": worker.worker_id, "error": type(answer).__name__})
            else:
                self.note_ping(worker, answer)
                infos.append({"worker_id": worker.worker_id, **answer})
        return infos

    async def stop(self) -> None:
        """Start nothing more, and kill every worker (retiring ones at once) and wait until Ray reports them dead."""
        self._stopped = True
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*(self._kill(worker) for worker in self._fleet.remove_all()))

    async def _kill(self, worker: Worker) -> None:
        self._lost_signals.pop(worker.worker_id, None)
        self._unwatch(worker)
        self._launcher.kill(worker.handle)
        with contextlib.suppress(RayActorError, asyncio.TimeoutError):
            await asyncio.wait_for(awaited(worker.handle.ping.remote()), _PING_TIMEOUT)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background, holding a reference until it ends (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)


async def awaited(ref: Any) -> Any:
    """The value of ``ref`` (an ``ObjectRef``, or a test's stand-in), awaited."""
    return await ref
