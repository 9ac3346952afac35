"""``Coordinator``: the pool's request path — accept, share, queue, dispatch, retry, answer — as glue around pure parts.

Every request the actor (``actor.py``) receives is handed to :meth:`Coordinator.call` on one event loop, the
coordinator's home loop, where all of the state below lives:

1. **accept**: refused with :class:`PoolShutdownError` once the pool is closing, and (bulk lane only) with
   :class:`PoolBusyError` when ``max_queued`` bulk requests are already pending;
2. **share**: an answer still fresh in the result cache (``cache.py``) is returned at once; an identical request
   already in flight is joined, so N callers cost one HTTP call (an interactive caller joining a bulk request
   that still waits moves it to the interactive lane);
3. **execute**: otherwise the request becomes one execution task, independent of its callers: it takes a worker
   slot through the dispatcher (``dispatch.py``: lanes, retries first, callers in turn, the pool-wide rate cap),
   runs one attempt on the least-loaded serving worker with a ``task_timeout`` deadline, and on a retryable error
   sleeps the :class:`~nepse_ray.pool.policy.RetryPolicy` delay and queues again (a ``Retry-After`` beyond
   ``max_retry_after`` fails at once); a lost worker is reported to the supervisor (``supervisor.py``);
4. **answer**: a successful ``Wire`` is cached if the endpoint's rule allows (errors never are) and returned to
   every caller; ``recorder.py`` counts each answer for ``PoolStats`` and the Ray metrics.

Worker results arrive as :class:`~nepse_ray.pool.wire.Wire` bytes and leave the same way: nothing here opens a row.

Shutdown: :meth:`Coordinator.shutdown` stops accepting; with ``drain`` it waits up to ``drain_timeout`` for every
accepted request (retries and backoff sleeps included) to finish, then fails what is left with
:class:`PoolShutdownError`; without ``drain`` it fails everything at once, backoff sleepers included. Then the
workers are killed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import logging
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

from ray.exceptions import RayActorError

from nepse_ray.nepse.errors import NepseError
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.pool.cache import CachePolicy, ResultCache
from nepse_ray.pool.dispatch import Dispatcher, Ticket
from nepse_ray.pool.errors import (
    PoolBusyError,
    PoolError,
    PoolShutdownError,
    TaskTimeoutError,
    WorkerLostError,
    original_error,
)
from nepse_ray.pool.fleet import Fleet, Worker, WorkerState
from nepse_ray.pool.lease import LEASE_WAIT, GivenBack, Grants, Lease
from nepse_ray.pool.metrics import PoolMetrics
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import Attempts, RetryPolicy
from nepse_ray.pool.recorder import Recorder
from nepse_ray.pool.request import LANES, Lane, PoolRequest, RequestKey
from nepse_ray.pool.site import pool_memory, site_fields
from nepse_ray.pool.stats import PoolStats
from nepse_ray.pool.supervisor import SESSION_GRACE, Launcher, Supervisor
from nepse_ray.pool.wire import Wire

log = logging.getLogger("nepse_ray.pool.coordinator")

_READY_POLL = 0.02
#: Requests pending at once from which a drained backlog is worth handing memory back for.
DRAINED_BACKLOG = 1_000


class _WorkerLost(Exception):
    """An attempt's worker went away; the request goes back to the dispatcher at once."""


@dataclasses.dataclass(eq=False)
class _Execution:
    """One request being carried out for one or more callers (identical requests share it)."""

    request: PoolRequest
    key: RequestKey | None
    task: asyncio.Task[Any] | None = None
    ticket: Ticket[asyncio.Future[Worker]] | None = None
    """The ticket standing for it in the dispatcher while it waits for a worker slot."""
    callers: int = 1


@dataclasses.dataclass(eq=False, slots=True)
class _Leased:
    """A worker slot out on a lease (``lease.py``): the worker, since when, and whether it outlived ``task_timeout``."""

    worker: Worker
    since: float
    overdue: bool = False


class Coordinator:
    """The pool's request path and its parts; one per pool, driven on one event loop (see the module docstring)."""

    def __init__(
        self,
        options: PoolOptions,
        launcher: Launcher,
        *,
        metrics: PoolMetrics | None = None,
        on_drained: Callable[[], None] | None = None,
        retire_grace: float = SESSION_GRACE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(NEPAL_TZ),
    ) -> None:
        self._options = options
        self._clock = clock
        self._wall = wall
        self._retry = RetryPolicy.from_options(options)
        self._rng = random.Random()
        self._fleet = Fleet(options.slots_per_worker)
        self._dispatcher: Dispatcher[asyncio.Future[Worker]] = Dispatcher(options.pool_rate_cap, clock=clock)
        self._recorder = Recorder(metrics)
        self._supervisor = Supervisor(
            options,
            launcher,
            self._fleet,
            self._recorder,
            on_capacity=self._grant,
            on_no_workers=self._fail_waiting,
            retire_grace=retire_grace,
            clock=clock,
        )
        self.site = pool_memory(options)
        """What the pool learned about the site (decoder, healed payload ids), shared by its workers."""
        self._cache: ResultCache[Wire] = ResultCache(options.cache_max_bytes, clock=clock)
        self._cache_policy = CachePolicy(options.cache_ttl)
        self._shared: dict[RequestKey, _Execution] = {}
        self._executions: set[asyncio.Task[Any]] = set()
        self._pending: dict[Lane, int] = dict.fromkeys(LANES, 0)
        self._pending_peak = 0
        self._on_drained = on_drained
        self._attempt_numbers = 0
        self._leases: dict[int, _Leased] = {}
        # Lease ids start at random, so a lease granted before a restart of the coordinator is never taken for one
        # granted after it.
        self._lease_ids = itertools.count(secrets.randbits(48) << 16)
        self._grant_timer: asyncio.TimerHandle | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._closing = False

    # ---------------------------------------------------------------- lifetime

    async def start(self) -> None:
        """Start ``min_workers`` workers and the scaling loop (on the running loop, which becomes home)."""
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())
        log.info("pool %s: coordinator started", self._options.pool_name)

    async def ready(self, timeout: float) -> PoolStats:
        """Wait until ``min_workers`` workers serve; raise why a worker could not start, or :class:`PoolError`."""
        deadline = self._clock() + timeout
        while self._fleet.count(WorkerState.SERVING) < self._options.min_workers:
            if self._supervisor.start_error is not None:
                raise self._supervisor.start_error
            if self._clock() > deadline:
                raise PoolError(
                    f"pool {self._options.pool_name!r}: {self._options.min_workers} worker(s) did not start within "
                    f"{timeout:g} s; check that the Ray cluster has room for more actors"
                )
            await asyncio.sleep(_READY_POLL)
        return self.stats()

    async def shutdown(self, drain: bool = True, drain_timeout: float | None = None) -> PoolStats:
        """Stop accepting; finish (``drain``, up to ``drain_timeout``) or fail what was accepted; kill the workers.

        From the start, metrics go to Ray as they happen: the process ends soon after the last answer.
        """
        self._closing = True
        self._recorder.flush_at_once()
        timeout = self._options.drain_timeout if drain_timeout is None else drain_timeout
        deadline = self._clock() + timeout
        if drain and self._executions:
            await asyncio.wait(set(self._executions), timeout=timeout)
        while drain and self._leases and self._clock() < deadline:  # direct attempts finish and come back
            await asyncio.sleep(_READY_POLL)
        for task in list(self._executions):
            task.cancel()  # each ends with PoolShutdownError for its callers (see _execute)
        await asyncio.gather(*self._executions, return_exceptions=True)
        if self._ticker is not None:
            self._ticker.cancel()
        if self._grant_timer is not None:
            self._grant_timer.cancel()
        await self._supervisor.stop()
        self._cache.clear()
        self._flush_metrics()
        log.info("pool %s shut down (%s)", self._options.pool_name, "drained" if drain else "cancelled")
        return self.stats()

    # ---------------------------------------------------------------- one request

    async def call(self, request: PoolRequest) -> Any:
        """Answer ``request``: a :class:`Wire` for a catalogue endpoint, a plain value for a session method.

        Raises the final ``NepseError`` once retries are spent, :class:`PoolBusyError` when the bulk lane is full,
        or :class:`PoolShutdownError` when the pool is closing.
        """
        if self._closing:
            raise PoolShutdownError(endpoint=request.name)
        lane = request.lane
        if lane == "bulk" and self._pending["bulk"] >= self._options.max_queued:
            self._recorder.refused()
            raise PoolBusyError(endpoint=request.name)
        accepted = self._clock()
        self._pending[lane] += 1
        self._pending_peak = max(self._pending_peak, self._pending[lane])
        try:
            result = await self._answer(request)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._recorder.failed(error)
            raise
        finally:
            self._pending[lane] -= 1
        nbytes = result.nbytes if isinstance(result, Wire) else 0
        self._recorder.answered(lane, request.name, self._clock() - accepted, nbytes)
        return result

    async def _answer(self, request: PoolRequest) -> Any:
        key = request.key
        if key is not None:
            cached = self._cache.get(key)
            if cached is not None:
                self._recorder.cache_hit()
                return cached
            shared = self._shared.get(key)
            if shared is not None:
                self._recorder.coalesced()
                shared.callers += 1
                if request.lane == "interactive" and shared.ticket is not None:
                    shared.ticket = self._dispatcher.promote(shared.ticket)
                return await self._follow(shared)
        return await self._follow(self._execute(request, key))

    def _execute(self, request: PoolRequest, key: RequestKey | None) -> _Execution:
        execution = _Execution(request, key)
        execution.task = asyncio.get_running_loop().create_task(self._carry_out(execution))
        self._executions.add(execution.task)
        execution.task.add_done_callback(self._executions.discard)
        if key is not None and self._options.coalesce:
            self._shared[key] = execution
        return execution

    async def _follow(self, execution: _Execution) -> Any:
        """Wait for ``execution`` on behalf of one caller; the last caller to leave cancels it."""
        task = execution.task
        assert task is not None
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                execution.callers -= 1
                if execution.callers == 0:
                    self._unshare(execution)
                    task.cancel()
            raise

    async def _carry_out(self, execution: _Execution) -> Any:
        request = execution.request
        try:
            result = await self._with_retries(execution)
        except asyncio.CancelledError:
            if self._closing:
                raise PoolShutdownError(endpoint=request.name) from None
            raise
        finally:
            self._unshare(execution)
        if execution.key is not None and isinstance(result, Wire):
            ttl = self._cache_policy.ttl(request.name, dict(execution.key.query), self._wall())
            if ttl is not None:
                self._cache.put(execution.key, result, result.nbytes, ttl)
        return result

    def _unshare(self, execution: _Execution) -> None:
        if execution.key is not None and self._shared.get(execution.key) is execution:
            del self._shared[execution.key]

    async def _with_retries(self, execution: _Execution) -> Any:
        request = execution.request
        method, args = request.worker_call()
        attempts = Attempts(self._retry)
        retry = False
        while True:
            worker = await self._acquire(execution, retry)
            try:
                return await self._attempt(worker, request.name, method, args)
            except _WorkerLost:
                delay = attempts.after(WorkerLostError(endpoint=request.name), self._rng, worker_lost=True)
            except NepseError as error:
                delay = attempts.after(error, self._rng)
            self._recorder.retried()
            retry = True
            if delay:
                await asyncio.sleep(delay)

    # ---------------------------------------------------------------- slots

    async def _acquire(self, execution: _Execution, retry: bool) -> Worker:
        """A worker slot for one attempt, through the dispatcher's rules."""
        request = execution.request
        granted: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        execution.ticket = Ticket(request.lane, request.caller, granted, retry)
        self._dispatcher.push(execution.ticket)
        queued_at = self._clock()
        self._grant()
        try:
            worker = await granted
            assert execution.ticket is not None  # the lane it was granted in: interactive if it was promoted
            self._recorder.waited(execution.ticket.lane, self._clock() - queued_at)
            return worker
        except asyncio.CancelledError:
            if self._dispatcher.withdraw(execution.ticket):
                self._recorder.stale_cleaned(1)
            elif granted.done() and not granted.cancelled() and granted.exception() is None:
                self._release(granted.result())
            raise
        finally:
            execution.ticket = None

    def _grant(self) -> None:
        """Hand free worker slots to the tickets the dispatcher picks; set the rate-cap timer if it holds some back."""
        for ticket in self._dispatcher.grant(self._fleet.free_slots()):
            worker = self._fleet.pick()
            assert worker is not None  # free_slots() counted this slot
            self._fleet.occupy(worker)
            ticket.payload.set_result(worker)
        wake_at = self._dispatcher.wake_at()
        if wake_at is not None and self._grant_timer is None:
            self._grant_timer = asyncio.get_running_loop().call_later(max(0.0, wake_at - self._clock()), self._regrant)

    def _regrant(self) -> None:
        self._grant_timer = None
        self._grant()

    def _release(self, worker: Worker) -> None:
        if self._fleet.release(worker, self._clock()):
            self._supervisor.drained(worker)
        self._grant()

    def _fail_waiting(self, error: NepseError) -> None:
        """No worker can start: every request waiting for a slot fails with the reason."""
        for ticket in self._dispatcher.clear():
            ticket.payload.set_exception(error)

    # ---------------------------------------------------------------- one attempt

    async def _attempt(self, worker: Worker, name: str, method: str, args: tuple[Any, ...]) -> Any:
        self._attempt_numbers += 1
        number = self._attempt_numbers
        ref = getattr(worker.handle, method).remote(*args)
        future = asyncio.wrap_future(ref.future())
        future.add_done_callback(lambda done: self._attempt_finished(worker, number, done))
        try:
            done, _ = await asyncio.wait((future,), timeout=self._options.task_timeout)
        except asyncio.CancelledError:  # the slot frees itself when the worker answers
            worker.abandoned[number] = self._clock()
            raise
        if not done:
            worker.abandoned[number] = self._clock()
            self._recorder.timed_out()
            raise TaskTimeoutError(endpoint=name)
        worker.requests += 1
        try:
            return future.result()
        except RayActorError as error:
            self._supervisor.lost(worker, error)
            raise _WorkerLost from None
        except Exception as error:
            raise original_error(error) from None

    def _attempt_finished(self, worker: Worker, number: int, future: asyncio.Future[Any]) -> None:
        """An attempt's answer arrived (perhaps long after its caller gave up): free its slot."""
        if worker.abandoned.pop(number, None) is not None and not future.cancelled():
            future.exception()  # nobody waits for it any more; mark the outcome as seen
        self._release(worker)

    # ---------------------------------------------------------------- leases: the direct path (lease.py)

    async def lease(self, caller: str, wanted: int, retries: int = 0, known: frozenset[str] = frozenset()) -> Grants:
        """Up to ``wanted`` bulk-lane worker slots for ``caller`` (the first ``retries`` of them for retries), with
        the handles of the workers granted that are not among the ``known`` ones.

        Answers as soon as the dispatcher grants at least one (every slot it grants at that moment comes along), or
        with none after :data:`LEASE_WAIT` seconds. Raises :class:`PoolShutdownError` once the pool is closing, or
        why no worker can start.
        """
        if self._closing:
            raise PoolShutdownError()
        loop, queued_at = asyncio.get_running_loop(), self._clock()
        tickets = [Ticket("bulk", caller, loop.create_future(), number < retries) for number in range(wanted)]
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
        leases = []
        for worker in workers:
            self._recorder.waited("bulk", now - queued_at)
            lease_id = next(self._lease_ids)
            self._leases[lease_id] = _Leased(worker, now)
            leases.append(Lease(lease_id, worker.worker_id))
        return Grants(tuple(leases), {w.worker_id: w.handle for w in workers if w.worker_id not in known})

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

    def give_back(self, returned: list[GivenBack]) -> None:
        """Free the slots of leases given back and count what their attempts came to."""
        for back in returned:
            leased = self._leases.pop(back.lease_id, None)
            if leased is None:  # given back twice, or granted before a restart of this coordinator
                continue
            worker = leased.worker
            worker.abandoned.pop(back.lease_id, None)
            if back.outcome != "cancelled":
                worker.requests += 1
            if isinstance(back.lost, RayActorError):
                self._supervisor.lost(worker, back.lost)
            if back.outcome == "answered":
                self._recorder.answered("bulk", back.endpoint, back.latency, back.nbytes)
            elif back.outcome == "retried":
                self._recorder.retried()
            elif back.outcome == "failed":
                self._recorder.failed(back.error or PoolError())
            self._release(worker)

    def _overdue_leases(self) -> None:
        """A lease out longer than ``task_timeout`` counts as an abandoned attempt (its worker is replaced if it
        stays out twice that long more, as for the coordinator's own attempts); one out three times that long is
        forgotten (its caller is gone, and so is its worker by then)."""
        now, limit = self._clock(), self._options.task_timeout
        for lease_id, leased in list(self._leases.items()):
            if now - leased.since > 3 * limit:
                del self._leases[lease_id]
            elif not leased.overdue and now - leased.since > limit:
                leased.overdue = True
                leased.worker.abandoned[lease_id] = now
                self._recorder.timed_out()

    # ---------------------------------------------------------------- the scaling loop

    async def _tick_forever(self) -> None:
        self._supervisor.start_workers(self._options.min_workers)
        while True:
            try:
                self._overdue_leases()
                self._supervisor.tick(self._dispatcher.waiting())
                self._cache.purge()
                self._after_backlog()
                self._flush_metrics()
            except Exception:
                log.exception("pool %s: scaling tick failed", self._options.pool_name)
            await asyncio.sleep(self._options.scale_interval)

    def _flush_metrics(self) -> None:
        """Hand the buffered metrics to Ray and set the gauges: workers by state, requests waiting by lane."""
        self._recorder.flush(
            {state.value: self._fleet.count(state) for state in WorkerState},
            {lane: self._dispatcher.waiting(lane) for lane in LANES},
        )
        self._recorder.site(self.site.status())

    def _after_backlog(self) -> None:
        """Once a large backlog has drained, let the process hand the memory it took back (``on_drained``)."""
        if self._pending_peak >= DRAINED_BACKLOG and not any(self._pending.values()):
            self._pending_peak = 0
            if self._on_drained is not None:
                self._on_drained()

    # ---------------------------------------------------------------- read-outs

    def bulk_load(self) -> int:
        """Bulk requests accepted and not yet answered, and leases out: non-zero while bulk work runs (the live
        streams then keep to their budget, ``hub.py``)."""
        return self._pending["bulk"] + len(self._leases)

    def session_workers(self) -> list[Any]:
        """Handles of the workers serving now, for the facades' direct session calls."""
        return self._supervisor.serving_handles()

    async def ping_workers(self) -> list[dict[str, Any]]:
        return await self._supervisor.ping_all()

    def stats(self) -> PoolStats:
        fleet = self._fleet
        started = [w for w in fleet if w.state in (WorkerState.SERVING, WorkerState.DRAINING, WorkerState.QUARANTINED)]
        busy = sum(1 for w in started if w.state is not WorkerState.QUARANTINED and w.inflight > 0)
        quarantined = fleet.count(WorkerState.QUARANTINED)
        p50, p95 = self._recorder.latency_percentiles()
        return PoolStats(
            pool_name=self._options.pool_name,
            total_workers=len(started),
            busy_workers=busy,
            idle_workers=len(started) - busy - quarantined,
            queue_length=self._dispatcher.waiting(),
            closing=self._closing,
            queue_by_lane={lane: self._dispatcher.waiting(lane) for lane in LANES},
            pending_tasks=sum(self._pending.values()) + len(self._leases),
            **dataclasses.asdict(self._recorder.counts),
            quarantined_workers=quarantined,
            starting_workers=fleet.count(WorkerState.STARTING),
            cached_answers=len(self._cache),
            cache_bytes=self._cache.nbytes,
            requests_per_worker={w.worker_id: w.requests for w in started},
            latency_p50=p50,
            latency_p95=p95,
            workers=fleet.statuses(),
            **site_fields(self.site.status()),
        )
