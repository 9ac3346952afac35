"""``Coordinator``: the pool's request path — accept, share, queue, dispatch, retry, answer — as glue around pure parts.

Every request the actor (``actor.py``) receives is handed to :meth:`Coordinator.call` on one event loop, the
coordinator's home loop, where all of the state below lives:

1. **accept**: refused with :class:`PoolShutdownError` once the pool is closing, and (bulk lane only) with
   :class:`PoolBusyError` when ``max_queued`` bulk requests are already pending;
2. **share**: an answer still fresh in the result cache (``cache.py``) is returned at once; an identical request
   already in flight is joined, so N callers cost one HTTP call (an interactive caller joining a bulk request
   makes it interactive: it moves to the interactive lane, and is urgent at the worker);
3. **execute**: otherwise the request becomes one execution task, independent of its callers: it takes a worker
   slot through the dispatcher (``dispatch.py``: lanes, retries first, callers in turn, the pool-wide rate cap;
   an interactive request waits at most ``task_timeout`` for one), runs one attempt on the least-loaded serving
   worker with a ``task_timeout`` deadline, and after a failure asks :class:`~nepse_ray.pool.policy.Attempts`
   whether and when to queue again; a lost worker is reported to the supervisor (``supervisor.py``);
4. **answer**: a successful ``Wire`` is cached if the endpoint's rule allows (errors never are) and returned to
   every caller; ``recorder.py`` counts each answer for ``PoolStats`` and the Ray metrics.

Worker results arrive as :class:`~nepse_ray.pool.wire.Wire` bytes and leave the same way: nothing here opens a row.
Pulls take the direct path instead (``lease_desk.py``): they lease worker slots and call the workers themselves.
With ``pool_rate_cap``, workers ask :meth:`Coordinator.permit` for every HTTP request beyond an attempt's first.
The cumulative counters and worker numbers are kept in the ledger (``ledger.py``), so a coordinator Ray restarts
goes on from them.

Shutdown: :meth:`Coordinator.shutdown` stops accepting; with ``drain`` it waits up to ``drain_timeout`` for every
accepted request (retries and backoff sleeps included) to finish, then fails what is left with
:class:`PoolShutdownError`; without ``drain`` it fails everything at once, backoff sleepers included. Then the
workers are killed.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import datetime as dt
import logging
import random
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
    PoolRouteError,
    PoolShutdownError,
    TaskTimeoutError,
    WorkerLostError,
    original_error,
)
from nepse_ray.pool.fleet import Fleet, Worker, WorkerState
from nepse_ray.pool.lease import Ask, Grants, Returns
from nepse_ray.pool.lease_desk import LeaseDesk
from nepse_ray.pool.ledger import Ledger, LedgerStore
from nepse_ray.pool.memory import BacklogWatch
from nepse_ray.pool.metrics import PoolMetrics
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import Attempts, RetryPolicy, TokenRefused
from nepse_ray.pool.recorder import Recorder
from nepse_ray.pool.replica import NUMBER_GRACE, HotIndex, HotList, HotStore
from nepse_ray.pool.request import LANES, Lane, PoolRequest, RequestKey
from nepse_ray.pool.site import pool_memory, site_fields
from nepse_ray.pool.stats import PoolStats
from nepse_ray.pool.supervisor import SESSION_GRACE, SESSION_REFRESH, Launcher, Supervisor
from nepse_ray.pool.wire import Wire

log = logging.getLogger("nepse_ray.pool.coordinator")

_READY_POLL = 0.02


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
    urgent: bool = False
    """An interactive caller waits for it (it may have come as a bulk request that one joined)."""

    @property
    def lane(self) -> Lane:
        return "interactive" if self.urgent else "bulk"


class Coordinator:
    """The pool's request path and its parts; one per pool, driven on one event loop (see the module docstring)."""

    def __init__(
        self,
        options: PoolOptions,
        launcher: Launcher,
        *,
        metrics: PoolMetrics | None = None,
        on_drained: Callable[[], None] | None = None,
        ledger_store: LedgerStore | None = None,
        hot_store: HotStore | None = None,
        retire_grace: float = SESSION_GRACE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(NEPAL_TZ),
    ) -> None:
        self._options = options
        self._clock = clock
        self._wall = wall
        self._retry = RetryPolicy.from_options(options)
        self._rng = random.Random()
        self._ledger = Ledger.open(ledger_store, clock())
        self._fleet = Fleet(options.slots_per_worker)
        self._dispatcher: Dispatcher[asyncio.Future[Worker]] = Dispatcher(options.pool_rate_cap, clock=clock)
        self._permits: collections.deque[asyncio.Future[None]] = collections.deque()
        self._recorder = Recorder(metrics, self._ledger.counts)
        self._supervisor = Supervisor(
            options,
            launcher,
            self._fleet,
            self._recorder,
            on_capacity=self._grant,
            on_no_workers=self._fail_waiting,
            on_numbered=self._numbered,
            first_number=self._ledger.next_worker,
            retire_grace=retire_grace,
            clock=clock,
        )
        self.site = pool_memory(options)
        """What the pool learned about the site (decoder, healed payload ids), shared by its workers."""
        self._cache: ResultCache[Wire] = ResultCache(options.cache_max_bytes, clock=clock)
        self._cache_policy = CachePolicy(options.cache_ttl)
        self._hot = HotIndex(clock, hot_store)  # the small cached answers the replica gives (replica.py)
        self._shared: dict[RequestKey, _Execution] = {}
        self._executions: set[asyncio.Task[Any]] = set()
        self._pending: dict[Lane, int] = dict.fromkeys(LANES, 0)
        self._backlog = BacklogWatch()
        self._on_drained = on_drained
        self._attempt_numbers = 0
        self._desk = LeaseDesk(
            options,
            self._dispatcher,
            self._fleet,
            self._recorder,
            self._supervisor,
            self._ledger,
            grant=self._grant,
            release=self._release,
            closing=lambda: self._closing,
            clock=clock,
        )
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
        while drain and self._desk and self._clock() < deadline:  # direct attempts finish and come back
            await asyncio.sleep(_READY_POLL)
        for task in list(self._executions):
            task.cancel()  # each ends with PoolShutdownError for its callers (see _execute)
        await asyncio.gather(*self._executions, return_exceptions=True)
        for waiter in self._permits:
            if not waiter.done():
                waiter.set_result(None)  # a worker's request goes on: its attempt ends as the workers do
        if self._ticker is not None:
            self._ticker.cancel()
        self._desk.stop()
        if self._grant_timer is not None:
            self._grant_timer.cancel()
        await self._supervisor.stop()
        self._cache.clear()
        self._flush_metrics()
        self._ledger.clear()
        self._hot.clear()
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
        self._backlog.accepted(self._pending[lane])
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
                if request.lane == "interactive":  # its attempts take the interactive lane and are urgent at workers
                    shared.urgent = True
                    if shared.ticket is not None:
                        shared.ticket = self._dispatcher.promote(shared.ticket)
                return await self._follow(shared)
        return await self._follow(self._execute(request, key))

    def _execute(self, request: PoolRequest, key: RequestKey | None) -> _Execution:
        execution = _Execution(request, key, urgent=request.lane == "interactive")
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
            if ttl is not None and self._cache.put(execution.key, result, result.nbytes, ttl):
                self._hot.cached(request, result.nbytes)
        return result

    def _unshare(self, execution: _Execution) -> None:
        if execution.key is not None and self._shared.get(execution.key) is execution:
            del self._shared[execution.key]

    async def _with_retries(self, execution: _Execution) -> Any:
        request = execution.request
        attempts = Attempts(self._retry)
        retry = False
        while True:
            worker = await self._acquire(execution, retry)
            method, args = request.worker_call(urgent=execution.urgent)
            try:
                return await self._attempt(worker, request.name, method, args)
            except _WorkerLost:
                delay = attempts.after(WorkerLostError(endpoint=request.name), self._rng, worker_lost=True)
            except (NepseError, TokenRefused) as error:
                delay = attempts.after(error, self._rng, worker=worker.worker_id)
            self._recorder.retried()
            retry = True
            if delay:
                await asyncio.sleep(delay)

    # ---------------------------------------------------------------- slots

    async def _acquire(self, execution: _Execution, retry: bool) -> Worker:
        """A worker slot for one attempt, through the dispatcher's rules.

        An interactive request waits at most ``task_timeout`` for one (every attempt in the pool ends within that
        on a healthy worker), then fails with :class:`PoolBusyError`.
        """
        request = execution.request
        granted: asyncio.Future[Worker] = asyncio.get_running_loop().create_future()
        execution.ticket = Ticket(execution.lane, request.caller, granted, retry)
        self._dispatcher.push(execution.ticket)
        queued_at = self._clock()
        self._grant()
        try:
            bound = self._options.task_timeout if execution.urgent else None
            worker = await asyncio.wait_for(asyncio.shield(granted), bound)
            assert execution.ticket is not None  # the lane it was granted in: interactive if it was promoted
            self._recorder.waited(execution.ticket.lane, self._clock() - queued_at)
            return worker
        except (asyncio.CancelledError, asyncio.TimeoutError) as stop:
            if self._dispatcher.withdraw(execution.ticket):
                self._recorder.stale_cleaned(1)
            elif granted.done() and not granted.cancelled() and granted.exception() is None:
                self._release(granted.result())
            if isinstance(stop, asyncio.CancelledError):
                raise
            raise PoolBusyError(
                f"{request.name}: no worker slot came free within task_timeout={self._options.task_timeout:g} s; "
                "every slot is held by requests that do not end. Try again, or check the pool's workers",
                endpoint=request.name,
            ) from None
        finally:
            execution.ticket = None

    def _grant(self) -> None:
        """Hand the rate cap's permits to workers waiting for them, then free worker slots to the tickets the
        dispatcher picks; set the rate-cap timer if it holds some back."""
        if any(waiter.done() for waiter in self._permits):  # its worker's call was cancelled
            self._permits = collections.deque(waiter for waiter in self._permits if not waiter.done())
        permits, tickets = self._dispatcher.grant(self._fleet.free_slots(), permits=len(self._permits))
        for _ in range(permits):
            self._permits.popleft().set_result(None)
        for ticket in tickets:
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
        lost = self._supervisor.lost_signal(worker)  # its process gone: no answer will come
        try:
            await asyncio.wait((future, lost), timeout=self._options.task_timeout, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the slot frees itself when the worker answers
            worker.abandoned[number] = self._clock()
            raise
        if not future.done():
            worker.abandoned[number] = self._clock()
            if lost.done():
                raise _WorkerLost
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

    # ---------------------------------------------------------------- the direct path (lease_desk.py)

    async def lease(self, ask: Ask) -> Grants:
        """Worker slots as leases for a caller on the direct path; see ``LeaseDesk.lease``."""
        return await self._desk.lease(ask)

    def give_back(self, returns: Returns) -> None:
        """Leases coming back from a caller; see ``LeaseDesk.give_back``."""
        self._desk.give_back(returns)

    async def permit(self) -> None:
        """A permit of the pool's rate cap for one more HTTP request of an attempt in flight (``worker.PoolPermits``),
        ahead of any grant; at once without a cap or once the pool is closing."""
        if self._options.pool_rate_cap is None or self._closing:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._permits.append(waiter)
        self._grant()
        await waiter

    # ---------------------------------------------------------------- the scaling loop

    async def _tick_forever(self) -> None:
        self._supervisor.start_workers(self._options.min_workers)
        while True:
            try:
                self._desk.tick()
                self._supervisor.tick(self._dispatcher.waiting())
                self._cache.purge()
                self._hot.purge(self._cache)
                if self._backlog.drained(sum(self._pending.values())) and self._on_drained is not None:
                    self._on_drained()  # hand back the memory a large backlog took (memory.py)
                self._flush_metrics()
                self._ledger.forget_idle(self._clock())
                self._ledger.save()
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

    def _numbered(self, next_number: int) -> None:
        """A worker took its number: keep the next one in the ledger now, so no restart gives that number again."""
        self._ledger.next_worker = next_number
        self._ledger.save()

    # ---------------------------------------------------------------- read-outs

    def bulk_load(self) -> int:
        """Bulk requests accepted and not yet answered, and leases out: non-zero while bulk work runs (the live
        streams then keep to their budget, ``hub.py``)."""
        return self._pending["bulk"] + len(self._desk)

    def routes(self) -> tuple[list[Any], HotList]:
        """What the facades send past the queue: the serving workers (session calls), and the small cached answers the
        replica gives (``replica.py``)."""
        return self._supervisor.serving_handles(), self._hot.listed(self._cache)

    async def hot_entry(self, number: int) -> tuple[Wire, float]:
        """The replica's ask for answer ``number`` (``replica.py``): the answer, as a call of its request gets it, and
        the seconds it may be kept (0: not at all)."""
        request = self._hot.request(number)
        if request is None:
            raise PoolRouteError(
                f"the pool no longer knows cached answer {number}; the facade's list of cached answers was older "
                f"than {NUMBER_GRACE:.0f} s. Call again: the facade reads the list again every {SESSION_REFRESH:.0f} s"
            )
        answer = await self.call(request)
        assert request.key is not None
        return answer, self._cache.seconds_left(request.key) or 0.0

    async def ping_workers(self) -> list[dict[str, Any]]:
        return await self._supervisor.ping_all()

    def stats(self) -> PoolStats:
        """A snapshot of the pool; its totals are in the ledger's store first, so no restart takes them back."""
        self._ledger.save()
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
            pending_tasks=sum(self._pending.values()) + len(self._desk),
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
