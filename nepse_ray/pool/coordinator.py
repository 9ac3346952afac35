"""``PoolCoordinator``: the async Ray actor that queues, dispatches, retries and scales.

One coordinator per pool, named ``options.pool_name`` in ``options.namespace``, so every driver that asks for the
same pool shares it. Each :meth:`PoolCoordinator.call` is one coroutine that owns its request from start to finish:

1. wait for a worker slot in a priority queue (retries go first; a free slot with nobody waiting is taken at once),
2. run one attempt on the least-loaded healthy worker (:func:`~nepse_ray.pool.policy.choose_worker`) with a
   ``task_timeout`` deadline,
3. on a retryable error sleep the :class:`~nepse_ray.pool.policy.RetryPolicy` delay (full jitter, Retry-After
   honoured) and go back to 1; on a lost worker go back to 1 at once; otherwise return or raise.

A worker that answers ``ActorUnavailableError`` (its process is restarting) is quarantined and re-pinged until it
answers; one that answers ``ActorDiedError`` is killed for good and replaced. A scaling loop runs
:func:`~nepse_ray.pool.policy.decide_scaling` every ``scale_interval``, sets the metrics gauges, and cleans stale
state: queue entries of callers that went away, and workers wedged on an attempt abandoned more than
twice ``task_timeout`` ago.

Nothing here blocks the event loop: worker results are awaited, never fetched with ``ray.get``.

Coordinator failure: the actor is created with ``max_restarts=-1`` and ``max_task_retries=-1``, so when its process
dies Ray restarts it and resubmits every call in flight to the successor (reads are idempotent). Workers are owned
by the coordinator process, so Ray kills them with it; the successor starts its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.exceptions import ActorUnavailableError, RayActorError, RayTaskError

from nepse_ray.nepse.errors import NepseError
from nepse_ray.nepse.ratelimit import TokenBucket
from nepse_ray.pool.errors import PoolError, PoolShutdownError, TaskTimeoutError, WorkerLostError
from nepse_ray.pool.metrics import PoolMetrics
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import (
    RetryPolicy,
    ScalingConfig,
    ScalingState,
    WorkerLoad,
    choose_worker,
    decide_scaling,
)
from nepse_ray.pool.request import PoolRequest
from nepse_ray.pool.stats import PoolStats, WorkerStatus
from nepse_ray.pool.stats_math import percentile
from nepse_ray.pool.wire import Wire, pass_through
from nepse_ray.pool.worker import RayWorkerLauncher, request_method

log = logging.getLogger("nepse_ray.pool.coordinator")

_RETRY_FIRST = 0
_NEW = 1
#: Interactive requests are served before bulk ones, retries before new requests of the same lane.
_LANE_RANK = {"interactive": 0, "bulk": 1}
_LATENCY_WINDOW = 2048
_PING_TIMEOUT = 10.0
#: Seconds a new worker may take to answer its first ping (process start, imports, client construction).
_START_TIMEOUT = 60.0
_REVIVE_INTERVAL = 0.5
#: Seconds a facade may use its list of session workers before asking again (:meth:`session_workers`).
SESSION_REFRESH = 1.0
#: Seconds a retired worker keeps answering direct session calls before it is killed (> SESSION_REFRESH).
SESSION_GRACE = 3.0
#: Seconds a quarantined worker may take to come back before it is replaced (Ray restarts take about one).
_QUARANTINE_LIMIT = 30.0


@dataclass(eq=False)
class _Worker:
    """The coordinator's record of one worker actor."""

    worker_id: str
    handle: Any
    ready: bool = False
    healthy: bool = True
    draining: bool = False
    inflight: int = 0
    idle_since: float | None = None
    node_id: str | None = None
    pid: int | None = None
    requests: int = 0
    restarts: int = 0
    abandoned: dict[int, float] = field(default_factory=dict)
    """Attempts that timed out but still occupy a slot: attempt number -> when they were abandoned."""

    def load(self) -> WorkerLoad:
        return WorkerLoad(self.worker_id, self.inflight, self.idle_since, self.healthy)

    def status(self) -> WorkerStatus:
        return WorkerStatus(
            worker_id=self.worker_id,
            node_id=self.node_id,
            pid=self.pid,
            inflight=self.inflight,
            healthy=self.healthy,
            draining=self.draining,
            requests=self.requests,
            restarts=self.restarts,
        )


class _WorkerLost(Exception):
    """An attempt's worker went away; the request goes back to the front of the queue."""


@dataclass
class _Counters:
    completed: int = 0
    errors: int = 0
    retries: int = 0
    timeouts: int = 0
    restarts: int = 0
    replacements: int = 0
    scale_ups: int = 0
    scale_downs: int = 0
    stale_cleaned: int = 0
    result_bytes: int = 0


class PoolCoordinator:
    """The pool's brain: see the module docstring. Create it with :func:`coordinator_actor_options`."""

    def __init__(
        self, options: PoolOptions, launcher: RayWorkerLauncher | None = None, retire_grace: float = SESSION_GRACE
    ) -> None:
        if _inside_an_actor():
            pass_through()  # results from workers stay bytes here: see nepse_ray.pool.wire
        self._options = options
        self._retire_grace = retire_grace
        self._launcher = launcher if launcher is not None else RayWorkerLauncher()
        self._scaling = ScalingConfig.from_options(options)
        self._retry = RetryPolicy.from_options(options)
        self._rng = random.Random()
        self._workers: dict[str, _Worker] = {}
        self._retiring: dict[str, _Worker] = {}
        self._queue: list[tuple[tuple[int, int], int, asyncio.Future[_Worker]]] = []
        self._sequence = itertools.count()
        self._worker_numbers = itertools.count(1)
        self._attempt_numbers = itertools.count()
        self._pending = 0
        self._counters = _Counters()
        self._latencies: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self._scale_state = ScalingState()
        self._bucket = TokenBucket(options.pool_rate_cap) if options.pool_rate_cap else None
        self._grant_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False
        self._start_error: NepseError | None = None
        self._start_failures = 0
        self._starts_blocked_until = 0.0
        self._metrics = PoolMetrics(options.pool_name)

    def __repr__(self) -> str:  # Ray shows it in task errors and logs
        return f"PoolCoordinator(pool={self._options.pool_name!r})"

    # ---------------------------------------------------------------- public actor methods

    @request_method
    async def call(self, request: PoolRequest) -> Any:
        """Run ``request`` (a catalogue endpoint or a seed method) and return its result.

        A catalogue endpoint's result is the worker's :class:`~nepse_ray.pool.wire.Wire`, passed on unopened.
        Raises the final ``NepseError`` once retries are spent, or :class:`PoolShutdownError` if the pool is closing.
        """
        self._ensure_started()
        if self._closed:
            raise PoolShutdownError(endpoint=request.name)
        accepted = time.monotonic()
        self._pending += 1
        try:
            result = await self._run(request)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._counters.errors += 1
            self._metrics.failed(error)
            raise
        finally:
            self._pending -= 1
        latency = time.monotonic() - accepted
        self._counters.completed += 1
        if isinstance(result, Wire):
            self._counters.result_bytes += result.nbytes
        self._latencies.append(latency)
        self._metrics.completed(latency)
        return result

    async def ready(self, timeout: float) -> PoolStats:
        """Wait until ``min_workers`` workers answer.

        Raises the error that kept a worker from starting (e.g. the client's ``NepseInputError`` for a missing
        ``ca_bundle``), or :class:`PoolError` if the workers do not answer within ``timeout`` seconds.
        """
        self._ensure_started()
        deadline = time.monotonic() + timeout
        while sum(1 for worker in self._workers.values() if worker.ready) < self._options.min_workers:
            if self._start_error is not None:
                raise self._start_error
            if time.monotonic() > deadline:
                raise PoolError(
                    f"pool {self._options.pool_name!r}: {self._options.min_workers} worker(s) did not start within "
                    f"{timeout:g} s; check that the Ray cluster has room for more actors"
                )
            await asyncio.sleep(0.02)
        return self._snapshot()

    async def session_workers(self) -> list[Any]:
        """Handles of the workers serving now, for the facade's direct session calls (see ``api.py``).

        A worker retired after this answer keeps serving for :data:`SESSION_GRACE` seconds before it is killed,
        longer than a facade keeps this list, so a direct call never meets a worker the pool just retired.
        """
        self._ensure_started()
        return [w.handle for w in self._workers.values() if w.ready and w.healthy and not w.draining]

    def pool_options(self) -> PoolOptions:
        """The options this pool was created with (a later driver may have asked for different ones)."""
        return self._options

    async def stats(self) -> PoolStats:
        self._ensure_started()
        return self._snapshot()

    async def ping_workers(self) -> list[dict[str, Any]]:
        """Ping every started worker now: where it runs, its pid, its client's counters."""
        workers = [worker for worker in self._workers.values() if worker.ready]
        answers = await asyncio.gather(*(worker.handle.ping.remote() for worker in workers), return_exceptions=True)
        infos = []
        for worker, answer in zip(workers, answers, strict=True):
            if isinstance(answer, BaseException):
                infos.append({"worker_id": worker.worker_id, "error": type(answer).__name__})
            else:
                self._note_ping(worker, answer)
                infos.append({"worker_id": worker.worker_id, **answer})
        return infos

    async def shutdown(self, drain: bool = True) -> PoolStats:
        """Stop accepting requests, finish (``drain``) or fail the queued ones, and kill every worker."""
        self._closed = True
        if not drain:
            self._fail_queue(PoolShutdownError())
            await self._kill_all()  # requests in flight then fail with PoolShutdownError instead of a retry
        while self._pending:
            await asyncio.sleep(0.02)
        if self._ticker is not None:
            self._ticker.cancel()
        await self._kill_all()
        log.info("pool %s shut down (%s)", self._options.pool_name, "drained" if drain else "cancelled")
        return self._snapshot()

    # ---------------------------------------------------------------- one request

    async def _run(self, request: PoolRequest) -> Any:
        name = request.name
        method, args = request.worker_call()
        errors = losses = 0
        rank = _LANE_RANK[request.lane]
        priority = (rank, _NEW)
        while True:
            worker = await self._acquire(priority, name)
            try:
                return await self._attempt(worker, name, method, args)
            except _WorkerLost:
                lost = WorkerLostError(endpoint=name)
                if not self._retry.should_retry(lost, losses):
                    raise lost from None
                losses += 1
            except NepseError as error:
                if not self._retry.should_retry(error, errors):
                    raise
                delay = self._retry.next_delay(error, errors, self._rng)
                errors += 1
                self._counters.retries += 1
                self._metrics.retried()
                await asyncio.sleep(delay)
                priority = (rank, _RETRY_FIRST)
                continue
            self._counters.retries += 1
            self._metrics.retried()
            priority = (rank, _RETRY_FIRST)

    async def _acquire(self, priority: tuple[int, int], name: str) -> _Worker:
        """A worker slot for one attempt: at once if free and nobody waits, else through the priority queue."""
        if self._closed:
            raise PoolShutdownError(endpoint=name)
        if not self._queue:
            worker = self._pick()
            if worker is not None and self._permit():
                self._occupy(worker)
                return worker
        waiter: asyncio.Future[_Worker] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (priority, next(self._sequence), waiter))
        self._grant()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())
            raise

    async def _attempt(self, worker: _Worker, name: str, method: str, args: tuple[Any, ...]) -> Any:
        number = next(self._attempt_numbers)
        ref = getattr(worker.handle, method).remote(*args)
        future = asyncio.wrap_future(ref.future())
        future.add_done_callback(lambda done: self._finish_attempt(worker, number, done))
        try:
            done, _ = await asyncio.wait((future,), timeout=self._options.task_timeout)
        except asyncio.CancelledError:  # the caller went away; the slot frees itself when the worker answers
            worker.abandoned[number] = time.monotonic()
            raise
        if not done:
            worker.abandoned[number] = time.monotonic()
            self._counters.timeouts += 1
            raise TaskTimeoutError(endpoint=name)
        worker.requests += 1
        try:
            return future.result()
        except RayTaskError as error:
            cause = error.cause
            if isinstance(cause, Exception):
                raise cause from None
            raise
        except ActorUnavailableError:
            self._quarantine(worker)
            raise _WorkerLost from None
        except RayActorError:
            self._replace(worker)
            raise _WorkerLost from None

    # ---------------------------------------------------------------- slots

    def _pick(self) -> _Worker | None:
        loads = [worker.load() for worker in self._workers.values() if worker.ready and not worker.draining]
        chosen = choose_worker(loads, self._options.inflight_per_worker)
        return None if chosen is None else self._workers[chosen]

    def _occupy(self, worker: _Worker) -> None:
        worker.inflight += 1
        worker.idle_since = None

    def _finish_attempt(self, worker: _Worker, number: int, future: asyncio.Future[Any]) -> None:
        """An attempt's result arrived (perhaps long after its caller gave up): free its slot."""
        if worker.abandoned.pop(number, None) is not None and not future.cancelled():
            future.exception()  # the caller is gone; mark the outcome as seen
        self._release(worker)

    def _release(self, worker: _Worker) -> None:
        worker.inflight -= 1
        if worker.inflight == 0:
            worker.idle_since = time.monotonic()
            if worker.draining:
                self._reap(worker)
        self._grant()

    def _permit(self) -> bool:
        return self._bucket is None or self._bucket.try_acquire()

    def _grant(self) -> None:
        """Hand free slots to the waiters at the front of the queue."""
        while self._queue:
            waiter = self._queue[0][2]
            if waiter.done():
                heapq.heappop(self._queue)
                continue
            worker = self._pick()
            if worker is None:
                return
            if not self._permit():
                self._retry_grant_later()
                return
            heapq.heappop(self._queue)
            self._occupy(worker)
            waiter.set_result(worker)

    def _retry_grant_later(self) -> None:
        if self._grant_timer is None and self._bucket is not None:

            def fire() -> None:
                self._grant_timer = None
                self._grant()

            self._grant_timer = asyncio.get_running_loop().call_later(0.25 / self._bucket.rate, fire)

    def _fail_queue(self, error: NepseError) -> None:
        for _, _, waiter in self._queue:
            if not waiter.done():
                waiter.set_exception(error)
        self._queue.clear()

    # ---------------------------------------------------------------- worker lifecycle

    def _start_worker(self) -> None:
        worker_id = f"w{next(self._worker_numbers)}"
        handle = self._launcher.start(self._options)
        worker = _Worker(worker_id, handle)
        self._workers[worker_id] = worker
        self._spawn(self._await_ready(worker))

    async def _await_ready(self, worker: _Worker) -> None:
        try:
            info = await asyncio.wait_for(_awaitable(worker.handle.ping.remote()), _START_TIMEOUT)
        except (RayActorError, RayTaskError, asyncio.TimeoutError) as error:
            self._worker_failed_to_start(worker, error)
            await self._kill(worker)
            return
        self._start_error = None
        self._start_failures = 0
        self._note_ping(worker, info)
        worker.ready = True
        worker.idle_since = time.monotonic()
        log.info("pool %s: worker %s ready on node %s", self._options.pool_name, worker.worker_id, worker.node_id)
        self._grant()

    def _worker_failed_to_start(self, worker: _Worker, error: BaseException) -> None:
        """Remember why (a NepseError from the worker's client as itself), back off, fail waiters if none serve."""
        cause = error.cause if isinstance(error, RayTaskError) else None
        if isinstance(cause, NepseError):
            self._start_error = cause
        else:
            last_line = str(error).strip().splitlines()[-1] if str(error).strip() else ""
            self._start_error = PoolError(
                f"a worker of pool {self._options.pool_name!r} failed to start ({type(error).__name__}: {last_line})"
            )
        log.error("pool %s: worker %s failed to start: %s", self._options.pool_name, worker.worker_id, error)
        self._workers.pop(worker.worker_id, None)
        self._start_failures += 1
        delay = self._retry.backoff.delay(self._start_failures - 1, self._rng)
        self._starts_blocked_until = time.monotonic() + delay
        if not any(w.ready for w in self._workers.values()):
            self._fail_queue(self._start_error)

    def _note_ping(self, worker: _Worker, info: dict[str, Any]) -> None:
        if worker.pid is not None and info["pid"] != worker.pid:
            worker.restarts += 1
            self._counters.restarts += 1
            self._metrics.worker_event("restart")
            log.warning("pool %s: worker %s was restarted by Ray", self._options.pool_name, worker.worker_id)
        worker.pid = info["pid"]
        worker.node_id = info["node_id"]

    def _quarantine(self, worker: _Worker) -> None:
        if not worker.healthy or self._workers.get(worker.worker_id) is not worker:
            return
        worker.healthy = False
        self._metrics.worker_event("quarantine")
        log.warning("pool %s: worker %s is unavailable; quarantined", self._options.pool_name, worker.worker_id)
        self._spawn(self._revive(worker))

    async def _revive(self, worker: _Worker) -> None:
        """Re-ping a quarantined worker until it answers (healthy again) or is dead or lost (replaced)."""
        deadline = time.monotonic() + _QUARANTINE_LIMIT
        while self._workers.get(worker.worker_id) is worker:
            try:
                info = await asyncio.wait_for(_awaitable(worker.handle.ping.remote()), _PING_TIMEOUT)
            except (ActorUnavailableError, asyncio.TimeoutError):
                if time.monotonic() > deadline:
                    self._replace(worker, f"stayed unavailable for {_QUARANTINE_LIMIT:g} s")
                    return
                await asyncio.sleep(_REVIVE_INTERVAL)
                continue
            except RayActorError:
                self._replace(worker)
                return
            self._note_ping(worker, info)
            worker.healthy = True
            log.info("pool %s: worker %s answers again", self._options.pool_name, worker.worker_id)
            self._grant()
            return

    def _replace(self, worker: _Worker, why: str = "died") -> None:
        if self._workers.get(worker.worker_id) is not worker:
            return
        del self._workers[worker.worker_id]
        self._launcher.kill(worker.handle)
        self._counters.replacements += 1
        self._metrics.worker_event("replacement")
        log.warning("pool %s: worker %s %s; starting a replacement", self._options.pool_name, worker.worker_id, why)
        if not self._closed:
            self._start_worker()
        elif not self._workers:  # draining, and nothing is left to drain onto
            self._fail_queue(PoolShutdownError())

    def _retire(self, worker: _Worker) -> None:
        worker.draining = True
        if worker.inflight == 0:
            self._reap(worker)

    def _reap(self, worker: _Worker) -> None:
        if self._workers.pop(worker.worker_id, None) is worker:
            self._retiring[worker.worker_id] = worker
            self._spawn(self._kill_after_grace(worker))

    async def _kill_after_grace(self, worker: _Worker) -> None:
        # Facades may still hold this worker's handle for direct session calls (they refresh their list every
        # SESSION_REFRESH seconds); let those calls finish first. Shutdown kills retiring workers at once.
        await asyncio.sleep(self._retire_grace)
        if self._retiring.pop(worker.worker_id, None) is worker:
            await self._kill(worker)

    async def _kill_all(self) -> None:
        workers = [*self._workers.values(), *self._retiring.values()]
        self._workers.clear()
        self._retiring.clear()
        await asyncio.gather(*(self._kill(worker) for worker in workers))

    async def _kill(self, worker: _Worker) -> None:
        """Kill a worker for good and wait until Ray reports it dead."""
        self._launcher.kill(worker.handle)
        with contextlib.suppress(RayActorError, asyncio.TimeoutError):
            await asyncio.wait_for(_awaitable(worker.handle.ping.remote()), _PING_TIMEOUT)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in the background, holding a reference until it ends (the loop keeps only weak ones)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ---------------------------------------------------------------- scaling loop

    def _ensure_started(self) -> None:
        if self._ticker is None and not self._closed:
            self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
            log.info("pool %s: coordinator started", self._options.pool_name)

    async def _tick_forever(self) -> None:
        while not self._closed:
            try:
                self._tick(time.monotonic())
            except Exception:
                log.exception("pool %s: scaling tick failed", self._options.pool_name)
            await asyncio.sleep(self._options.scale_interval)

    def _tick(self, now: float) -> None:
        self._clean_stale(now)
        # A quarantined worker is being restarted by Ray: the policy sees it as a start in progress, not a hole.
        serving = [w for w in self._workers.values() if w.ready and w.healthy and not w.draining]
        starting = sum(1 for w in self._workers.values() if not w.ready or not w.healthy)
        decision = decide_scaling(
            self._scaling,
            [worker.load() for worker in serving],
            self._queue_length(),
            now,
            self._scale_state,
            pending_starts=starting,
        )
        scaled_up = decision.state.last_scale_up_at != self._scale_state.last_scale_up_at
        self._scale_state = decision.state
        if decision.add and now < self._starts_blocked_until:
            log.debug("pool %s: holding worker starts after a failed start", self._options.pool_name)
        elif decision.add:
            if scaled_up:
                self._counters.scale_ups += 1
                self._metrics.scaled("up", decision.add)
            log.info("pool %s: adding %d worker(s): %s", self._options.pool_name, decision.add, decision.reason)
            for _ in range(decision.add):
                self._start_worker()
        if decision.retire:
            self._counters.scale_downs += 1
            self._metrics.scaled("down", len(decision.retire))
            log.info("pool %s: retiring %s: %s", self._options.pool_name, ", ".join(decision.retire), decision.reason)
            for worker_id in decision.retire:
                self._retire(self._workers[worker_id])
        self._metrics.snapshot(self._snapshot())

    def _clean_stale(self, now: float) -> None:
        """Drop queue entries of departed callers; replace workers wedged on long-abandoned attempts."""
        live = [entry for entry in self._queue if not entry[2].done()]
        if len(live) != len(self._queue):
            self._counters.stale_cleaned += len(self._queue) - len(live)
            heapq.heapify(live)
            self._queue = live
        limit = 2 * self._options.task_timeout
        for worker in list(self._workers.values()):
            if any(now - since > limit for since in worker.abandoned.values()):
                self._counters.stale_cleaned += len(worker.abandoned)
                self._replace(worker, "is wedged on an abandoned attempt")

    # ---------------------------------------------------------------- stats

    def _queue_length(self) -> int:
        return sum(1 for _, _, waiter in self._queue if not waiter.done())

    def _snapshot(self) -> PoolStats:
        started = [worker for worker in self._workers.values() if worker.ready]
        busy = sum(1 for worker in started if worker.healthy and worker.inflight > 0)
        quarantined = sum(1 for worker in started if not worker.healthy)
        latencies = list(self._latencies)
        counters = self._counters
        return PoolStats(
            pool_name=self._options.pool_name,
            total_workers=len(started),
            busy_workers=busy,
            idle_workers=len(started) - busy - quarantined,
            queue_length=self._queue_length(),
            pending_tasks=self._pending,
            total_tasks_completed=counters.completed,
            total_errors=counters.errors,
            retries=counters.retries,
            timeouts=counters.timeouts,
            worker_restarts=counters.restarts,
            worker_replacements=counters.replacements,
            quarantined_workers=quarantined,
            starting_workers=len(self._workers) - len(started),
            scale_up_events=counters.scale_ups,
            scale_down_events=counters.scale_downs,
            stale_cleaned=counters.stale_cleaned,
            result_bytes=counters.result_bytes,
            requests_per_worker={worker.worker_id: worker.requests for worker in started},
            latency_p50=percentile(latencies, 50),
            latency_p95=percentile(latencies, 95),
            workers=tuple(worker.status() for worker in self._workers.values()),
        )


async def _awaitable(ref: Any) -> Any:
    return await ref


def coordinator_actor_options(options: PoolOptions) -> dict[str, Any]:
    """The ``ray.remote`` options of a pool's coordinator: named, shared, restarted forever."""
    return {
        "name": options.pool_name,
        "namespace": options.namespace,
        "get_if_exists": True,
        "lifetime": "detached" if options.detached else None,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": 10_000,
        "num_cpus": 0,
    }


def _inside_an_actor() -> bool:
    """Whether this process is a Ray actor (the coordinator's own process), not a driver running it in-process."""
    return ray.is_initialized() and ray.get_runtime_context().get_actor_id() is not None


RemotePoolCoordinator: Any = ray.remote(PoolCoordinator)
