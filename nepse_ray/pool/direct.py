"""``DirectRequests``: the caller's side of the pool's lean data path — bulk attempts sent straight to the workers.

A request submitted here waits on the caller until the coordinator grants it a worker slot (a
:class:`~nepse_ray.pool.lease.Lease`, through the dispatcher's lanes, caller fairness and rate cap); the caller
then calls the worker itself, so the result (one buffer: a pickled Arrow batch or the body bytes) travels from the
worker to the caller in one hop, and the coordinator never receives it. After the attempt the lease goes back,
batched with others, saying what the attempt came to, and the coordinator frees the slot and counts the outcome.

Why (both paths measured side by side in one run at W = 5..20; ``nepse-ray bench --only scale-out wire-costs``
measures it now): relaying a page through an actor costs that actor about 2 ms of CPU however little it does, and
pages through ``api.submit`` cost the coordinator 2.7-4.0 ms each; on this path, where a lease and its return are a
few hundred bytes and several travel in one call, 0.6-0.9 ms.

The rules are the coordinator's, decided in the same pure parts: :class:`~nepse_ray.pool.policy.Attempts` says
whether a failed attempt is retried and after how long (a retry asks for a new lease, in the dispatcher's retry
queue; a token refused after a fresh prove goes to another token), an attempt that outlives ``task_timeout`` is
abandoned and retried like a lost one (its lease comes back when the worker does answer; the coordinator replaces a
worker whose lease stays out too long), and a worker lost under an attempt is reported so the coordinator
quarantines or replaces it. Not on this path: coalescing and the result cache (they need the result in the
coordinator); ``api.submit`` keeps them.

Each ``DirectRequests`` is one requester to the coordinator (``lease.py``): it shows its presence on its first lease
call to each coordinator life (so the coordinator returns its slots if its process dies), keeps a running tally of
what its leases came to (so a coordinator restart loses no count), and drops the worker handles it holds when the
coordinator's life changes (a restarted coordinator's workers are new actors).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from nepse_ray.nepse.tables import PageBatch
from nepse_ray.pool.errors import PoolShutdownError, TaskTimeoutError, WorkerLostError, original_error
from nepse_ray.pool.lease import LEASE_WAIT, Ask, GivenBack, Grants, Outcome, Returns, Tally
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import Attempts, RetryPolicy
from nepse_ray.pool.request import Form, PoolRequest

#: Seconds ``close`` waits for a lease call still in flight, to give its leases straight back.
_CLOSE_WAIT = LEASE_WAIT + 5.0
#: Seconds ``close`` waits for attempts in flight to end before it gives their leases back as still running.
_LANDING_WAIT = 2.0
#: Leases given back together: at most this many seconds after the first of them came free, at once if this many
#: are waiting, and at once while this caller's own requests wait for a slot (its lease call is out): the slot is
#: needed now, and a pool running without rate limits would otherwise leave every slot idle for the delay (a
#: 5-worker pull at full speed went at half the pages/s). Each coordinator call saved costs it ~0.5 ms of CPU.
RETURN_DELAY = 0.1
RETURN_BATCH = 16


@dataclasses.dataclass(eq=False, slots=True)
class DirectRequest:
    """One request on the direct path; :meth:`DirectRequests.submit` returns it and :meth:`DirectRequests.wait`
    hands it back with its answer."""

    request: PoolRequest
    attempts: Attempts
    asked: float
    retry: bool = False


@dataclasses.dataclass(eq=False, slots=True)
class _Flight:
    """An attempt on its way: its request, its lease, and when it is abandoned."""

    request: DirectRequest
    lease_id: int
    worker_id: str
    deadline: float
    verdict: Outcome | None = None
    """Set when the attempt was abandoned at its deadline: what it came to, reported when its lease comes back."""
    error: BaseException | None = None


class DirectRequests:
    """Bulk requests of one caller (a facade) sent straight to the pool's workers; see the module docstring.

    Not thread-safe: one thread submits and waits (the pull engine does both).
    """

    def __init__(
        self, coordinator: Any, caller: str, options: PoolOptions, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._coordinator = coordinator
        self._caller = caller
        self._requester = uuid.uuid4().hex
        self._presence = ray.put(self._requester)  # owned by this process: gone when it dies (lease.py)
        self._introduce = True
        self._task_timeout = options.task_timeout
        self._policy = RetryPolicy.from_options(options)
        self._slots = options.max_workers * options.slots_per_worker
        self._clock = clock
        self._rng = random.Random()
        self._waiting: collections.deque[DirectRequest] = collections.deque()
        self._delayed: list[tuple[float, DirectRequest]] = []
        self._flights: dict[Any, _Flight] = {}
        self._handles: dict[str, Any] = {}
        self._life = 0
        self._tally = Tally()
        self._returns: list[GivenBack] = []
        self._returns_since = 0.0
        self._asking: Any | None = None

    def submit(self, name: str, params: dict[str, Any], form: Form) -> DirectRequest:
        """Queue catalogue request ``name(**params)`` in ``form``; :class:`NepseInputError` at once if it is bad."""
        request = PoolRequest.checked(name, params, lane="bulk", form=form, caller=self._caller)
        direct = DirectRequest(request, Attempts(self._policy), self._clock())
        self._waiting.append(direct)
        return direct

    def wait(self, timeout: float) -> list[tuple[DirectRequest, Any]]:
        """Requests that ended, each with its result or the exception it ended with; waits up to ``timeout`` seconds
        for the first (sleeping if nothing is pending)."""
        deadline = self._clock() + timeout
        while True:
            self._wake_due()
            self._ask()
            ended = self._collect(min(deadline, self._next_event()) - self._clock())
            ended += self._abandon_overdue()
            self._send_returns(force=not self._flights)
            if ended or self._clock() >= deadline:
                return ended

    def close(self) -> None:
        """Give back every lease still held: the caller stops waiting. Attempts in flight may end for up to
        :data:`_LANDING_WAIT` seconds first; the leases of those still running go back marked so, and the
        coordinator keeps their slots taken until they must have ended (``lease.py``)."""
        if self._asking is not None:
            try:
                grants: Grants = ray.get(self._asking, timeout=_CLOSE_WAIT)
                for lease in grants.leases:
                    self._give_back(GivenBack(lease.lease_id, "cancelled"))
            except (RayActorError, RayTaskError, GetTimeoutError):
                pass
            self._asking = None
        if self._flights:
            flights = list(self._flights)
            landed, _ = ray.wait(flights, num_returns=len(flights), timeout=_LANDING_WAIT, fetch_local=False)
            for ref, flight in self._flights.items():
                self._give_back(GivenBack(flight.lease_id, "cancelled", running=ref not in landed))
            self._flights.clear()
        self._send_returns(force=True, final=True)

    def settled(self) -> bool:
        """Whether the pool has most of its strength now (``PoolStats.settled``): a retry round is worth starting."""
        try:
            stats: Any = ray.get(self._coordinator.stats.remote())
        except (RayActorError, RayTaskError):
            return False
        return bool(stats.settled)

    # ---------------------------------------------------------------- leases

    def _ask(self) -> None:
        """Ask for leases for the waiting requests (retries first), unless a lease call is already out or this
        caller holds every slot the pool can have: then the next answer frees one, and its lease goes back with
        the next lease call instead of a call of its own (one coordinator call per page instead of two)."""
        if self._asking is not None or not self._waiting or len(self._flights) >= self._slots:
            return
        wanted = min(len(self._waiting), self._slots)
        retries = sum(1 for direct in itertools.islice(self._waiting, wanted) if direct.retry)
        presence = [self._presence] if self._introduce else None
        ask = Ask(self._caller, self._requester, wanted, retries, frozenset(self._handles), self._life, presence)
        self._asking = self._coordinator.lease.remote(ask, self._take_returns())

    def _granted(self, ref: Any) -> list[tuple[DirectRequest, Any]]:
        """Send one waiting request to the worker of each lease granted; every waiting one fails if the pool refuses."""
        self._asking = None
        try:
            grants: Grants = ray.get(ref)
        except RayTaskError as error:
            return self._refused(original_error(error))
        except RayActorError:
            return self._refused(PoolShutdownError())
        if grants.life != self._life:  # a new coordinator life (or the first): its workers are all new to us
            self._introduce = self._life != 0
            self._life = grants.life
            self._handles = dict(grants.handles)
        else:
            self._introduce = False
            self._handles.update(grants.handles)
        for lease in grants.leases:
            direct = self._waiting.popleft()
            method, args = direct.request.worker_call()
            attempt = getattr(self._handles[lease.worker_id], method).remote(*args)
            deadline = self._clock() + self._task_timeout
            self._flights[attempt] = _Flight(direct, lease.lease_id, lease.worker_id, deadline)
        return []

    def _refused(self, error: BaseException) -> list[tuple[DirectRequest, Any]]:
        ended = [(direct, error) for direct in self._waiting]
        self._waiting.clear()
        return ended

    # ---------------------------------------------------------------- attempts

    def _collect(self, timeout: float) -> list[tuple[DirectRequest, Any]]:
        """Wait up to ``timeout`` for the lease call or an attempt; handle everything that is ready by then."""
        refs = list(self._flights) + ([self._asking] if self._asking is not None else [])
        if not refs:
            time.sleep(max(0.0, timeout))
            return []
        ready, _ = ray.wait(refs, num_returns=1, timeout=max(0.0, timeout))
        if ready:  # and whatever else is ready by now
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        ended: list[tuple[DirectRequest, Any]] = []
        for ref in ready:
            if ref == self._asking:
                ended += self._granted(ref)
            else:
                ended += self._landed(ref)
        return ended

    def _landed(self, ref: Any) -> list[tuple[DirectRequest, Any]]:
        """An attempt's answer arrived: give its lease back with the outcome; the request's answer if it ended."""
        flight = self._flights.pop(ref)
        direct, lost = flight.request, None
        failure: BaseException
        try:
            value = ray.get(ref)
        except RayActorError as error:
            lost, failure = error, WorkerLostError(endpoint=direct.request.name)
        except RayTaskError as error:
            failure = original_error(error)
        else:
            if flight.verdict is None:
                latency = self._clock() - direct.asked
                self._give_back(GivenBack(flight.lease_id, "answered", direct.request.name, _size(value), latency))
                return [(direct, value)]
        if flight.verdict is not None:  # abandoned earlier: the request went on (or ended) without this answer
            self._give_back(GivenBack(flight.lease_id, flight.verdict, error=flight.error, lost=lost))
            return []
        outcome, final = self._after_failure(direct, failure, flight.worker_id, worker_lost=lost is not None)
        self._give_back(GivenBack(flight.lease_id, outcome, error=final, lost=lost))
        return [] if final is None else [(direct, final)]

    def _abandon_overdue(self) -> list[tuple[DirectRequest, Any]]:
        """Attempts past ``task_timeout`` are given up on (their leases stay out until the worker answers)."""
        now, ended = self._clock(), []
        for flight in self._flights.values():
            if flight.verdict is None and now >= flight.deadline:
                timeout = TaskTimeoutError(endpoint=flight.request.request.name)
                verdict = self._after_failure(flight.request, timeout, flight.worker_id, worker_lost=False)
                flight.verdict, flight.error = verdict
                if flight.error is not None:
                    ended.append((flight.request, flight.error))
        return ended

    def _after_failure(
        self, direct: DirectRequest, error: BaseException, worker: str, *, worker_lost: bool
    ) -> tuple[Outcome, BaseException | None]:
        """Retry ``direct`` after the policy's delay, or end it: the outcome and the final error, if it ended."""
        try:
            delay = direct.attempts.after(error, self._rng, worker_lost=worker_lost, worker=worker)
        except Exception as final:
            return "failed", final
        direct.retry = True
        self._delayed.append((self._clock() + delay, direct))
        return "retried", None

    # ---------------------------------------------------------------- timing and returns

    def _wake_due(self) -> None:
        """Retries whose delay is over wait for a lease again, ahead of first attempts."""
        now = self._clock()
        due = [direct for at, direct in self._delayed if at <= now]
        if due:
            self._delayed = [(at, direct) for at, direct in self._delayed if at > now]
            self._waiting.extendleft(reversed(due))

    def _next_event(self) -> float:
        """When a retry's delay ends or an attempt reaches its deadline, whichever is first."""
        moments = [at for at, _ in self._delayed]
        moments += [flight.deadline for flight in self._flights.values() if flight.verdict is None]
        if self._returns:
            moments.append(self._returns_since + RETURN_DELAY)
        return min(moments, default=float("inf"))

    def _give_back(self, back: GivenBack) -> None:
        if not self._returns:
            self._returns_since = self._clock()
        self._returns.append(back)
        self._tally.add(back)

    def _take_returns(self, final: bool = False) -> Returns | None:
        """The leases to give back with the next call, with the tally (None if there are none and nothing ends)."""
        if not self._returns and not final:
            return None
        returns = Returns(self._requester, tuple(self._returns), self._tally.copy(), final)
        self._returns = []
        return returns

    def _send_returns(self, *, force: bool, final: bool = False) -> None:
        """Give the leases back that are due (see :data:`RETURN_DELAY`), or all of them with ``force``."""
        starved = self._asking is not None and bool(self._waiting)
        due = starved or len(self._returns) >= RETURN_BATCH or self._clock() >= self._returns_since + RETURN_DELAY
        if (self._returns and (force or due)) or final:
            self._coordinator.give_back.remote(self._take_returns(final))


def _size(value: object) -> int:
    """Bytes of a direct result, for ``PoolStats.result_bytes``."""
    if isinstance(value, PageBatch):
        return int(value.rows.nbytes)
    return len(value) if isinstance(value, bytes) else 0
