"""Scaling, dispatch and retry decisions: pure functions of (config, state, metrics, now).

Nothing here imports Ray, reads a clock, sleeps or logs. The coordinator gathers a snapshot of its workers, calls
:func:`decide_scaling` once per tick with ``now`` from its own monotonic clock, acts on the :class:`ScaleDecision`
and passes ``decision.state`` back on the next tick::

    state = ScalingState()
    decision = decide_scaling(config, workers, queued=len(queue), now=time.monotonic(), state=state)
    state = decision.state

Scaling rules, applied in this order (the first that applies decides):

1. **Minimum.** If healthy workers plus ``pending_starts`` are fewer than ``min_workers``, add the difference at
   once, with no delay (a dead worker is replaced immediately).
2. **Scale up.** The fleet is healthy workers plus ``pending_starts``; its busy fraction is the healthy workers with
   ``inflight > 0`` divided by the fleet. When the busy fraction is at least ``scaling_threshold`` *and* requests are
   queued, the pool wants ``ceil((inflight + queued) / capacity_per_worker)`` workers, clamped to
   ``[min_workers, max_workers]``, and adds the whole shortfall in one decision. The condition must hold without a
   break for ``upscale_delay`` seconds (tracked by ``ScalingState.upscale_since``).
3. **Scale down.** With nothing queued and no worker starting, healthy workers idle for at least ``idle_timeout``
   are retired, longest-idle first, never below ``min_workers``. No retirement happens within ``idle_timeout`` of the
   last scale-up, and the condition must hold for ``downscale_delay`` seconds (``ScalingState.downscale_since``).

Wanting one direction resets the other direction's timer, and a tick that wants neither resets both, so alternating
load never accumulates towards a scale event. A decision never both adds and retires. Unhealthy workers count
neither as capacity nor as retirement candidates: replacing or removing them is the coordinator's job.

Retries are two small strategies, tenacity-style: :class:`Backoff` says how long to wait, :class:`RetryPolicy` says
whether to retry at all and combines the two; :class:`Attempts` applies them to one request. A token refused even
after a fresh prove (:class:`TokenRefused`) is one token's trouble until enough distinct tokens refuse the same
request: it goes to another token at once, as a lost worker does.

:func:`next_token` picks which of a worker's tokens serves its next request: in turn, skipping a token paused by a
429.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from nepse_ray.nepse.errors import NepseAuthError, NepseError, NepseForbiddenError, NepseRateLimitedError
from nepse_ray.pool.options import PoolOptions

# Elapsed-time comparisons tolerate float rounding: 0.1 + 0.2 - 0.3 is not 0, and a hand-driven clock (or a monotonic
# one) must not miss a deadline by 1e-17 s and wait a whole extra tick.
_ELAPSED_EPS = 1e-9

# 2**64 times any sane base exceeds any sane cap; clamping the exponent keeps huge attempt numbers from overflowing.
_MAX_BACKOFF_EXPONENT = 64

#: Distinct tokens that must refuse one request (HTTP 401 or 403 again after a fresh prove) before it ends with that
#: refusal, in a pool with at least this many tokens (a smaller pool: every one of its tokens).
REFUSING_TOKENS = 3


@dataclass(frozen=True, slots=True)
class WorkerLoad:
    """One worker as the coordinator sees it at the moment of a decision."""

    worker_id: str
    inflight: int
    """Tasks currently running on the worker."""
    idle_since: float | None
    """Monotonic time the worker became idle (``inflight == 0``); ``None`` while it is busy."""
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class ScalingConfig:
    """The options :func:`decide_scaling` reads."""

    min_workers: int
    max_workers: int
    scaling_threshold: float
    idle_timeout: float
    capacity_per_worker: int
    upscale_delay: float = 0.0
    downscale_delay: float = 0.0

    @classmethod
    def from_options(cls, options: PoolOptions) -> ScalingConfig:
        return cls(
            min_workers=options.min_workers,
            max_workers=options.max_workers,
            scaling_threshold=options.scaling_threshold,
            idle_timeout=options.idle_timeout,
            capacity_per_worker=options.slots_per_worker,
            upscale_delay=options.upscale_delay,
            downscale_delay=options.downscale_delay,
        )


@dataclass(frozen=True, slots=True)
class ScalingState:
    """What :func:`decide_scaling` remembers between ticks; the caller carries it."""

    upscale_since: float | None = None
    """When the scale-up condition started holding without a break."""
    downscale_since: float | None = None
    """When the scale-down condition started holding without a break."""
    last_scale_up_at: float | None = None
    """When workers were last added by a scale-up (not by the minimum rule)."""


@dataclass(frozen=True, slots=True)
class ScaleDecision:
    """The outcome of one scaling tick: start ``add`` workers or stop the ``retire`` ones (never both)."""

    add: int
    retire: tuple[str, ...]
    state: ScalingState
    reason: str


def decide_scaling(
    config: ScalingConfig,
    workers: Sequence[WorkerLoad],
    queued: int,
    now: float,
    state: ScalingState,
    pending_starts: int = 0,
) -> ScaleDecision:
    """Decide whether to add or retire workers (rules in the module docstring)."""
    healthy = [worker for worker in workers if worker.healthy]
    fleet = len(healthy) + pending_starts

    if fleet < config.min_workers:
        return ScaleDecision(
            add=config.min_workers - fleet,
            retire=(),
            state=replace(state, downscale_since=None),
            reason=f"fleet of {fleet} is below min_workers={config.min_workers}",
        )

    shortfall = _upscale_shortfall(config, healthy, fleet, queued)
    if shortfall > 0:
        since = state.upscale_since if state.upscale_since is not None else now
        if _elapsed(since, now) < config.upscale_delay:
            return _hold(ScalingState(upscale_since=since, last_scale_up_at=state.last_scale_up_at), "scale-up")
        return ScaleDecision(
            add=shortfall,
            retire=(),
            state=ScalingState(last_scale_up_at=now),
            reason=f"{queued} queued with {fleet} workers busy past scaling_threshold={config.scaling_threshold}",
        )

    idle = _retirable(config, healthy, now) if queued == 0 and pending_starts == 0 else []
    cooling = state.last_scale_up_at is not None and _elapsed(state.last_scale_up_at, now) < config.idle_timeout
    if idle and not cooling:
        since = state.downscale_since if state.downscale_since is not None else now
        if _elapsed(since, now) < config.downscale_delay:
            return _hold(ScalingState(downscale_since=since, last_scale_up_at=state.last_scale_up_at), "scale-down")
        return ScaleDecision(
            add=0,
            retire=tuple(worker.worker_id for worker in idle),
            state=ScalingState(last_scale_up_at=state.last_scale_up_at),
            reason=f"{len(idle)} worker(s) idle for at least idle_timeout={config.idle_timeout}s",
        )

    return _hold(ScalingState(last_scale_up_at=state.last_scale_up_at), "")


def _upscale_shortfall(config: ScalingConfig, healthy: Sequence[WorkerLoad], fleet: int, queued: int) -> int:
    """Workers to add if the scale-up condition holds now, else 0."""
    if queued <= 0 or fleet == 0:
        return 0
    busy = sum(1 for worker in healthy if worker.inflight > 0)
    if busy / fleet < config.scaling_threshold:
        return 0
    inflight = sum(worker.inflight for worker in healthy)
    desired = math.ceil((inflight + queued) / config.capacity_per_worker)
    desired = max(config.min_workers, min(config.max_workers, desired))
    return max(0, desired - fleet)


def _retirable(config: ScalingConfig, healthy: Sequence[WorkerLoad], now: float) -> list[WorkerLoad]:
    """Healthy workers idle for at least ``idle_timeout``, longest-idle first, leaving ``min_workers``."""
    room = len(healthy) - config.min_workers
    if room <= 0:
        return []
    idle = [
        worker
        for worker in healthy
        if worker.inflight == 0
        and worker.idle_since is not None
        and _elapsed(worker.idle_since, now) >= config.idle_timeout
    ]
    idle.sort(key=lambda worker: (worker.idle_since, worker.worker_id))
    return idle[:room]


def _hold(state: ScalingState, waiting_for: str) -> ScaleDecision:
    reason = f"waiting for the {waiting_for} delay" if waiting_for else "no change needed"
    return ScaleDecision(add=0, retire=(), state=state, reason=reason)


def _elapsed(since: float, now: float) -> float:
    return now - since + _ELAPSED_EPS


def choose_worker(workers: Sequence[WorkerLoad], capacity_per_worker: int) -> str | None:
    """The least-loaded healthy worker with a free slot (ties: lowest ``worker_id``), or ``None`` if all are full."""
    free = [worker for worker in workers if worker.healthy and worker.inflight < capacity_per_worker]
    if not free:
        return None
    return min(free, key=lambda worker: (worker.inflight, worker.worker_id)).worker_id


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with full jitter.

    Attempt ``n`` (from 0) waits ``uniform(0, min(cap, base * 2**n))``; a server hint ``retry_after`` raises the
    wait to at least that hint, so the result never exceeds ``max(cap, retry_after)``::

        >>> Backoff(base=0.5, cap=10.0).delay(0, random.Random(1)) <= 0.5
        True
    """

    base: float
    cap: float

    def __post_init__(self) -> None:
        if not self.base > 0:
            raise ValueError(f"Backoff base must be positive, got {self.base}")
        if not self.cap >= self.base:
            raise ValueError(f"Backoff cap ({self.cap}) must be at least base ({self.base})")

    def ceiling(self, attempt: int) -> float:
        """The largest delay full jitter may draw for ``attempt``."""
        if attempt < 0:
            raise ValueError(f"attempt counts from 0, got {attempt}")
        return min(self.cap, self.base * 2.0 ** min(attempt, _MAX_BACKOFF_EXPONENT))

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        jittered = rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is not None and retry_after > jittered:
            return retry_after
        return jittered


def is_retryable(error: BaseException) -> bool:
    """Whether repeating the request may help: a ``NepseError`` that says so (pool timeouts and lost workers do)."""
    return isinstance(error, NepseError) and error.retryable


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Whether to retry a failed request, and after how long.

    A server hint longer than ``max_retry_after`` is not waited for: the request fails at once with a
    non-retryable :class:`~nepse_ray.nepse.errors.NepseRateLimitedError` that says how long the site asked to wait
    (:meth:`refusal`), instead of parking it (an ``86400`` would hold it for a day).
    """

    max_retries: int
    backoff: Backoff
    max_retry_after: float = 60.0
    refusing_tokens: int = 1
    """Distinct tokens that must refuse a request before it ends with the refusal."""

    @classmethod
    def from_options(cls, options: PoolOptions) -> RetryPolicy:
        return cls(
            max_retries=options.max_retries,
            backoff=Backoff(base=options.backoff_base, cap=options.backoff_cap),
            max_retry_after=options.max_retry_after,
            refusing_tokens=min(options.tokens, REFUSING_TOKENS),
        )

    def should_retry(self, error: BaseException, retries_done: int) -> bool:
        """True for a retryable error while fewer than ``max_retries`` retries have been made, unless the server
        asked for a wait longer than ``max_retry_after``."""
        return retries_done < self.max_retries and is_retryable(error) and self.refusal(error) is None

    def next_delay(self, error: BaseException, retries_done: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``retries_done + 1``, honouring the error's ``retry_after``."""
        retry_after = error.retry_after if isinstance(error, NepseError) else None
        return self.backoff.delay(retries_done, rng, retry_after=retry_after)

    def refusal(self, error: BaseException) -> NepseRateLimitedError | None:
        """The error to raise instead of ``error`` when its ``retry_after`` exceeds ``max_retry_after``."""
        if not isinstance(error, NepseError) or error.retry_after is None or error.retry_after <= self.max_retry_after:
            return None
        if isinstance(error, NepseRateLimitedError) and not error.retryable:
            return error  # the client refused it already, with the same message
        return NepseRateLimitedError.beyond_cap(error.endpoint, error.retry_after, self.max_retry_after, error.status)


class TokenRefused(Exception):
    """A worker's token was refused (HTTP 401 or 403) even after a fresh prove: ``error``, on the worker's token
    number ``token``.

    It travels from the worker to whoever retries the request (the coordinator, or a caller on the direct path),
    whose :class:`Attempts` tries another token, and never reaches a pool's user: the request ends with ``error``
    itself once enough distinct tokens refused it. The site refusing one token is no proof it refuses the client
    (that token may have been revoked early, or replaced while the request was on its way).
    """

    def __init__(self, error: NepseAuthError | NepseForbiddenError, token: int) -> None:
        super().__init__(error, token)
        self.error = error
        self.token = token

    def __str__(self) -> str:
        return f"token {self.token} refused: {self.error}"


@dataclass(slots=True)
class Attempts:
    """One request's retries so far, and the one rule for what follows a failed attempt.

    The coordinator (requests it carries out) and the direct path (``direct.py``: attempts a caller sends straight
    to a worker on a lease) both ask :meth:`after` and nothing else, so a request is retried the same way whichever
    path it takes. Failures of the site, losses of a worker and tokens refusing it are counted apart:

    * a site failure is retried after the policy's backoff, up to ``max_retries`` times;
    * a lost worker is retried at once (another worker takes it), up to ``max_retries`` times;
    * a :class:`TokenRefused` from a token that had not refused this request yet is retried at once, on whichever
      token comes next, until ``refusing_tokens`` distinct tokens (worker and token number) refused it: then the
      request ends with the refusal. The same token refusing again counts as a site failure.
    """

    policy: RetryPolicy
    errors: int = 0
    losses: int = 0
    refused_by: set[tuple[str, int]] = field(default_factory=set)

    def after(self, error: BaseException, rng: random.Random, *, worker_lost: bool = False, worker: str = "") -> float:
        """Seconds to wait before the next attempt after ``error`` (on ``worker``); raises the error for the caller
        if none is due.

        A ``Retry-After`` beyond ``max_retry_after`` raises the policy's refusal instead of ``error``.
        """
        if worker_lost:
            if not self.policy.should_retry(error, self.losses):
                raise error from None
            self.losses += 1
            return 0.0
        if isinstance(error, TokenRefused):
            return self._refused(error, worker, rng)
        refusal = self.policy.refusal(error)
        if refusal is not None:
            raise refusal from None
        if not self.policy.should_retry(error, self.errors):
            raise error from None
        delay = self.policy.next_delay(error, self.errors, rng)
        self.errors += 1
        return delay

    def _refused(self, refused: TokenRefused, worker: str, rng: random.Random) -> float:
        token = (worker, refused.token)
        if token in self.refused_by:  # the same token again: a failure like any other, with backoff
            if self.errors >= self.policy.max_retries:
                raise refused.error from None
            delay = self.policy.next_delay(refused.error, self.errors, rng)
            self.errors += 1
            return delay
        self.refused_by.add(token)
        if len(self.refused_by) >= self.policy.refusing_tokens:
            raise refused.error from None
        return 0.0


def next_token(due: Sequence[float], turn: int, now: float, horizon: float) -> int:
    """Which of a worker's tokens serves its next request: the one whose ``turn`` it is, unless its rate limiter
    grants nothing for more than ``horizon`` seconds (a 429 paused it): then the next in turn that is not paused,
    or, if every one is, the one that resumes first.

    ``due[i]`` is when token ``i``'s limiter grants its next permit; ``horizon`` is how far ahead the requests a
    token is already serving push it (``inflight_per_worker`` intervals).

    >>> next_token([0.0, 0.0], turn=3, now=0.0, horizon=1.0)
    1
    >>> next_token([5.0, 0.2], turn=2, now=0.0, horizon=1.0)
    1
    """
    count = len(due)
    for step in range(count):
        token = (turn + step) % count
        if due[token] - now <= horizon:
            return token
    return min(range(count), key=lambda token: (due[token], (token - turn) % count))
