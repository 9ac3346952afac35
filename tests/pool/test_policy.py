"""Scaling, dispatch and retry decisions, driven by a hand-moved clock: no Ray, no sleeps."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from nepse_ray.nepse.errors import (
    NepseAuthError,
    NepseClientRequestError,
    NepseConnectionError,
    NepseError,
    NepseForbiddenError,
    NepseInputError,
    NepseRateLimitedError,
    NepseServerError,
)
from nepse_ray.pool.errors import PoolShutdownError, TaskTimeoutError, WorkerLostError
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import (
    Attempts,
    Backoff,
    RetryPolicy,
    ScaleDecision,
    ScalingConfig,
    ScalingState,
    TokenRefused,
    WorkerLoad,
    choose_worker,
    decide_scaling,
    next_token,
)

CONFIG = ScalingConfig(min_workers=1, max_workers=5, scaling_threshold=0.8, idle_timeout=30.0, capacity_per_worker=2)


def busy(worker_id: str, inflight: int = 2, healthy: bool = True) -> WorkerLoad:
    return WorkerLoad(worker_id, inflight=inflight, idle_since=None, healthy=healthy)


def idle(worker_id: str, since: float, healthy: bool = True) -> WorkerLoad:
    return WorkerLoad(worker_id, inflight=0, idle_since=since, healthy=healthy)


def decide(
    workers: list[WorkerLoad],
    queued: int,
    now: float,
    *,
    config: ScalingConfig = CONFIG,
    state: ScalingState | None = None,
    pending_starts: int = 0,
) -> ScaleDecision:
    return decide_scaling(config, workers, queued, now, state or ScalingState(), pending_starts=pending_starts)


def with_config(**changes: float) -> ScalingConfig:
    fields = {
        "min_workers": CONFIG.min_workers,
        "max_workers": CONFIG.max_workers,
        "scaling_threshold": CONFIG.scaling_threshold,
        "idle_timeout": CONFIG.idle_timeout,
        "capacity_per_worker": CONFIG.capacity_per_worker,
        "upscale_delay": CONFIG.upscale_delay,
        "downscale_delay": CONFIG.downscale_delay,
    }
    fields.update(changes)
    return ScalingConfig(**fields)  # type: ignore[arg-type]


# --- configuration ---------------------------------------------------------------------------------------------------


def test_scaling_config_from_options() -> None:
    options = PoolOptions(min_workers=2, inflight_per_worker=3, upscale_delay=1.5, downscale_delay=4.0)
    assert ScalingConfig.from_options(options) == ScalingConfig(
        min_workers=2,
        max_workers=5,
        scaling_threshold=0.8,
        idle_timeout=30.0,
        capacity_per_worker=3,
        upscale_delay=1.5,
        downscale_delay=4.0,
    )


# --- minimum ---------------------------------------------------------------------------------------------------------


def test_empty_fleet_is_brought_to_min_at_once_even_with_delays() -> None:
    config = with_config(min_workers=3, upscale_delay=10.0)
    decision = decide([], queued=0, now=0.0, config=config)
    assert (decision.add, decision.retire) == (3, ())


def test_min_counts_pending_starts_and_ignores_unhealthy() -> None:
    config = with_config(min_workers=3)
    assert decide([idle("a", 0.0), idle("b", 0.0, healthy=False)], queued=0, now=1.0, config=config).add == 2
    assert decide([idle("a", 0.0)], queued=0, now=1.0, config=config, pending_starts=2).add == 0


# --- scale up --------------------------------------------------------------------------------------------------------


def test_large_backlog_adds_every_needed_worker_in_one_decision() -> None:
    decision = decide([busy("w0")], queued=200, now=5.0)
    assert decision.add == 4
    assert decision.retire == ()
    assert decision.state == ScalingState(last_scale_up_at=5.0)


def test_scale_up_is_sized_by_the_backlog() -> None:
    # (2 running + 3 queued) / 2 per worker -> 3 workers wanted, 1 running.
    assert decide([busy("w0")], queued=3, now=0.0).add == 2


def test_no_scale_up_below_threshold_or_without_a_queue() -> None:
    three_of_five_busy = [busy("a"), busy("b"), busy("c"), idle("d", 0.0), idle("e", 0.0)]
    assert decide(three_of_five_busy, queued=50, now=1.0).add == 0
    assert decide([busy("a"), busy("b")], queued=0, now=1.0).add == 0


def test_scale_up_stops_at_max_workers() -> None:
    five_busy = [busy(f"w{i}") for i in range(5)]
    decision = decide(five_busy, queued=500, now=0.0)
    assert (decision.add, decision.retire) == (0, ())


def test_upscale_delay_requires_the_condition_to_hold() -> None:
    config = with_config(upscale_delay=1.0)
    first = decide([busy("w0")], queued=10, now=0.0, config=config)
    assert first.add == 0
    assert first.state.upscale_since == 0.0
    halfway = decide([busy("w0")], queued=10, now=0.5, config=config, state=first.state)
    assert halfway.add == 0
    assert halfway.state.upscale_since == 0.0
    done = decide([busy("w0")], queued=10, now=1.0, config=config, state=halfway.state)
    assert done.add == 5 - 1
    assert done.state == ScalingState(last_scale_up_at=1.0)


def test_upscale_delay_restarts_when_the_condition_breaks() -> None:
    config = with_config(upscale_delay=1.0)
    state = decide([busy("w0")], queued=10, now=0.0, config=config).state
    broken = decide([busy("w0")], queued=0, now=0.5, config=config, state=state)
    assert broken.state.upscale_since is None
    again = decide([busy("w0")], queued=10, now=1.0, config=config, state=broken.state)
    assert again.add == 0
    assert again.state.upscale_since == 1.0
    assert decide([busy("w0")], queued=10, now=2.0, config=config, state=again.state).add == 4


def test_pending_starts_prevent_over_adding() -> None:
    first = decide([busy("w0")], queued=200, now=0.0)
    assert first.add == 4
    # The four new workers are still starting: the fleet is already at max, and its busy fraction is 1/5.
    nxt = decide([busy("w0")], queued=200, now=0.25, state=first.state, pending_starts=first.add)
    assert nxt.add == 0
    # Four busy and one still starting: 4/5 busy meets the threshold, but the fleet is already at max.
    four_busy = [busy(f"w{i}") for i in range(4)]
    assert decide(four_busy, queued=200, now=0.5, pending_starts=1).add == 0
    # Two busy and one starting: 2/3 is below the threshold, so wait for the new worker.
    assert decide([busy("a"), busy("b")], queued=200, now=0.5, pending_starts=1).add == 0


def test_unhealthy_workers_are_not_capacity() -> None:
    workers = [busy("ok"), *(busy(f"sick{i}", healthy=False) for i in range(4))]
    # Only one healthy worker, and it is busy: (2 + 10) / 2 = 6 wanted, clamped to 5.
    assert decide(workers, queued=10, now=0.0).add == 4


# --- scale down ------------------------------------------------------------------------------------------------------


def test_idle_workers_retire_after_idle_timeout_oldest_first() -> None:
    workers = [busy("busy"), idle("newer", 20.0), idle("oldest", 0.0), idle("older", 10.0)]
    assert decide(workers, queued=0, now=29.0).retire == ()
    assert decide(workers, queued=0, now=40.0).retire == ("oldest", "older")
    assert decide(workers, queued=0, now=50.0).retire == ("oldest", "older", "newer")


def test_retirement_stops_at_min_workers() -> None:
    config = with_config(min_workers=2)
    workers = [idle("c", 2.0), idle("a", 0.0), idle("b", 1.0)]
    decision = decide(workers, queued=0, now=100.0, config=config)
    assert decision.retire == ("a",)
    assert decision.add == 0
    assert decide([idle("a", 0.0), idle("b", 0.0)], queued=0, now=100.0, config=config).retire == ()


def test_equal_idle_times_retire_in_worker_id_order() -> None:
    assert decide([idle("b", 0.0), idle("a", 0.0), idle("c", 0.0)], queued=0, now=30.0).retire == ("a", "b")


def test_idle_timeout_boundary_tolerates_float_rounding() -> None:
    # 0.1 + 0.2 is 0.30000000000000004; the worker has still been idle for the full 30 s at 30.3.
    assert decide([idle("a", 0.1 + 0.2), busy("b")], queued=0, now=30.3).retire == ("a",)


def test_no_retirement_while_work_is_queued_or_workers_are_starting() -> None:
    workers = [idle("a", 0.0), idle("b", 0.0)]
    assert decide(workers, queued=1, now=100.0).retire == ()
    assert decide(workers, queued=0, now=100.0, pending_starts=1).retire == ()


def test_unhealthy_workers_are_not_retired_by_the_policy() -> None:
    workers = [busy("ok"), idle("sick", 0.0, healthy=False)]
    assert decide(workers, queued=0, now=100.0).retire == ()


def test_no_retirement_within_idle_timeout_of_a_scale_up() -> None:
    workers = [busy("a"), idle("b", 0.0)]
    recent = ScalingState(last_scale_up_at=80.0)
    assert decide(workers, queued=0, now=100.0, state=recent).retire == ()
    assert decide(workers, queued=0, now=110.0, state=recent).retire == ("b",)


def test_downscale_delay_requires_the_condition_to_hold_and_resets() -> None:
    config = with_config(downscale_delay=2.0)
    workers = [busy("a"), idle("b", 0.0)]
    first = decide(workers, queued=0, now=30.0, config=config)
    assert first.retire == ()
    assert first.state.downscale_since == 30.0
    broken = decide(workers, queued=3, now=31.0, config=config, state=first.state)
    assert broken.state.downscale_since is None
    restart = decide(workers, queued=0, now=31.5, config=config, state=broken.state)
    assert restart.retire == ()
    assert restart.state.downscale_since == 31.5
    assert decide(workers, queued=0, now=33.5, config=config, state=restart.state).retire == ("b",)


def test_wanting_to_scale_up_resets_the_downscale_timer() -> None:
    config = with_config(upscale_delay=5.0)
    state = ScalingState(downscale_since=1.0)
    decision = decide([busy("a")], queued=10, now=2.0, config=config, state=state)
    assert decision.state == ScalingState(upscale_since=2.0)


# --- properties over many snapshots ----------------------------------------------------------------------------------


def test_random_snapshots_never_add_and_retire_together_and_respect_bounds() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        config = with_config(
            min_workers=rng.randint(1, 3), max_workers=rng.randint(3, 6), idle_timeout=rng.choice([0, 5])
        )
        workers = [
            WorkerLoad(
                f"w{i}",
                inflight=(load := rng.randint(0, 2)),
                idle_since=None if load else rng.uniform(0, 10),
                healthy=rng.random() > 0.2,
            )
            for i in range(rng.randint(0, 6))
        ]
        pending = rng.randint(0, 2)
        decision = decide(workers, queued=rng.choice([0, 0, 3, 100]), now=10.0, config=config, pending_starts=pending)
        healthy = sum(worker.healthy for worker in workers)
        assert not (decision.add and decision.retire)
        assert decision.add >= 0
        if decision.add:
            assert healthy + pending + decision.add <= max(config.max_workers, config.min_workers)
        assert healthy - len(decision.retire) >= min(healthy, config.min_workers)


def simulate(config: ScalingConfig, ticks: int, loaded: Callable[[int], bool], tick: float = 0.25) -> int:
    """Run the policy against a toy fleet whose load is ``loaded(tick)``; return the number of fleet changes."""
    fleet: dict[str, WorkerLoad] = {"w0": idle("w0", 0.0)}
    state = ScalingState()
    events = 0
    next_id = 1
    for step in range(ticks):
        now = step * tick
        if loaded(step):
            fleet = {name: busy(name, config.capacity_per_worker) for name in fleet}
        else:
            fleet = {name: w if w.idle_since is not None else idle(name, now) for name, w in fleet.items()}
        decision = decide(list(fleet.values()), queued=50 if loaded(step) else 0, now=now, config=config, state=state)
        state = decision.state
        events += decision.add > 0 or bool(decision.retire)
        for name in decision.retire:
            del fleet[name]
        for _ in range(decision.add):
            fleet[f"w{next_id}"] = idle(f"w{next_id}", now)
            next_id += 1
        assert config.min_workers <= len(fleet) <= config.max_workers
    return events


def alternating(step: int) -> bool:
    return step % 2 == 0


def test_alternating_load_flaps_without_hysteresis() -> None:
    # The control case: no delays and no idle timeout scale up and down on every tick.
    assert simulate(with_config(idle_timeout=0.0), ticks=100, loaded=alternating) == 100


def test_alternating_load_does_not_flap_with_delays() -> None:
    config = with_config(idle_timeout=0.0, upscale_delay=1.0, downscale_delay=1.0)
    assert simulate(config, ticks=100, loaded=alternating) == 0


def test_alternating_load_does_not_flap_with_idle_timeout_alone() -> None:
    # One scale-up; the added workers never stay idle for 30 s, so none is retired.
    assert simulate(CONFIG, ticks=100, loaded=alternating) == 1


def test_sustained_load_still_scales_with_delays() -> None:
    config = with_config(idle_timeout=0.0, upscale_delay=1.0, downscale_delay=1.0)
    # 20 loaded ticks (5 s), then 20 idle ticks: one scale-up after 1 s, one retirement after 1 s of idleness.
    assert simulate(config, ticks=40, loaded=lambda step: step < 20) == 2


# --- dispatch --------------------------------------------------------------------------------------------------------


def test_choose_worker_prefers_least_loaded_then_lowest_id() -> None:
    workers = [busy("c", 1), busy("b", 1), busy("a", 2)]
    assert choose_worker(workers, capacity_per_worker=2) == "b"
    assert choose_worker([idle("b", 0.0), idle("a", 0.0)], capacity_per_worker=2) == "a"
    assert choose_worker([busy("a", 1), idle("z", 0.0)], capacity_per_worker=2) == "z"


def test_choose_worker_skips_full_and_unhealthy_workers() -> None:
    assert choose_worker([busy("a", 2), busy("b", 2)], capacity_per_worker=2) is None
    assert choose_worker([idle("a", 0.0, healthy=False), busy("b", 1)], capacity_per_worker=2) == "b"
    assert choose_worker([], capacity_per_worker=2) is None


# --- backoff ---------------------------------------------------------------------------------------------------------


def test_backoff_ceiling_doubles_up_to_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=10.0)
    assert [backoff.ceiling(n) for n in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoff.ceiling(100_000) == 10.0


@pytest.mark.parametrize("attempt", range(8))
def test_full_jitter_stays_within_bounds_and_spans_them(attempt: int) -> None:
    backoff = Backoff(base=0.5, cap=10.0)
    rng = random.Random(attempt)
    ceiling = min(10.0, 0.5 * 2**attempt)
    delays = [backoff.delay(attempt, rng) for _ in range(2000)]
    assert all(0.0 <= d <= ceiling for d in delays)
    assert min(delays) < 0.05 * ceiling
    assert max(delays) > 0.95 * ceiling


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    backoff = Backoff(base=0.5, cap=10.0)
    first = [backoff.delay(n, random.Random(3)) for n in range(5)]
    assert first == [backoff.delay(n, random.Random(3)) for n in range(5)]


def test_retry_after_is_a_floor_even_above_the_cap() -> None:
    backoff = Backoff(base=0.5, cap=10.0)
    rng = random.Random(1)
    assert all(backoff.delay(0, rng, retry_after=15.0) == 15.0 for _ in range(100))
    delays = [backoff.delay(3, rng, retry_after=1.0) for _ in range(1000)]
    assert all(1.0 <= d <= 4.0 for d in delays)
    assert max(delays) > 3.8


def test_invalid_backoff_is_rejected() -> None:
    with pytest.raises(ValueError, match="positive"):
        Backoff(base=0.0, cap=1.0)
    with pytest.raises(ValueError, match="at least base"):
        Backoff(base=2.0, cap=1.0)
    with pytest.raises(ValueError, match="from 0"):
        Backoff(base=1.0, cap=2.0).delay(-1, random.Random(0))


# --- retry policy ----------------------------------------------------------------------------------------------------


def test_retry_policy_from_options() -> None:
    options = PoolOptions(max_retries=5, backoff_base=0.25, backoff_cap=4.0)
    expected = RetryPolicy(max_retries=5, backoff=Backoff(base=0.25, cap=4.0), refusing_tokens=3)
    assert RetryPolicy.from_options(options) == expected
    assert RetryPolicy.from_options(PoolOptions(max_workers=2)).refusing_tokens == 2  # every token of a small pool


POLICY = RetryPolicy(max_retries=3, backoff=Backoff(base=0.5, cap=10.0))


@pytest.mark.parametrize(
    "error",
    [
        NepseServerError("503"),
        NepseRateLimitedError("429", retry_after=2.0),
        NepseConnectionError("reset"),
        TaskTimeoutError(),
        WorkerLostError(),
        NepseError("marked retryable", retryable=True),
    ],
)
def test_retryable_errors_are_retried_until_the_budget_is_spent(error: BaseException) -> None:
    assert [POLICY.should_retry(error, done) for done in range(5)] == [True, True, True, False, False]


@pytest.mark.parametrize(
    "error",
    [
        NepseClientRequestError("400"),
        NepseAuthError("401"),
        NepseInputError("bad date"),
        PoolShutdownError(),
        NepseServerError("503 but told not to", retryable=False),
        ValueError("not a NEPSE error"),
        RuntimeError("bug"),
    ],
)
def test_non_retryable_errors_are_never_retried(error: BaseException) -> None:
    assert not POLICY.should_retry(error, 0)


def test_zero_retries_means_one_attempt() -> None:
    assert not RetryPolicy(max_retries=0, backoff=Backoff(0.5, 10.0)).should_retry(NepseServerError("503"), 0)


def test_next_delay_uses_the_attempt_and_honours_retry_after() -> None:
    rng = random.Random(5)
    assert all(0.0 <= POLICY.next_delay(NepseServerError("503"), 1, rng) <= 1.0 for _ in range(500))
    assert all(POLICY.next_delay(NepseRateLimitedError("429", retry_after=7.0), 0, rng) >= 7.0 for _ in range(100))
    assert all(POLICY.next_delay(TimeoutError(), 10, rng) <= 10.0 for _ in range(100))


def test_a_server_hint_beyond_max_retry_after_is_refused_not_retried() -> None:
    policy = RetryPolicy(max_retries=3, backoff=Backoff(0.5, 10.0), max_retry_after=60.0)
    within = NepseRateLimitedError("429", endpoint="floorsheet", status=429, retry_after=60.0)
    beyond = NepseServerError("503", endpoint="floorsheet", status=503, retry_after=86_400.0)

    assert policy.refusal(within) is None and policy.should_retry(within, 0)
    assert not policy.should_retry(beyond, 0)
    refusal = policy.refusal(beyond)
    assert isinstance(refusal, NepseRateLimitedError) and not refusal.retryable
    assert (refusal.endpoint, refusal.status, refusal.retry_after) == ("floorsheet", 503, 86_400.0)
    assert "asked to wait 86400 s" in str(refusal) and "max_retry_after=60 s" in str(refusal)


def test_a_refusal_made_by_the_client_passes_through_unchanged() -> None:
    policy = RetryPolicy(max_retries=3, backoff=Backoff(0.5, 10.0), max_retry_after=60.0)
    from_client = NepseRateLimitedError.beyond_cap("floorsheet", 3600.0, 60.0)
    assert policy.refusal(from_client) is from_client
    assert policy.refusal(ValueError("not ours")) is None


def test_attempts_count_site_failures_and_worker_losses_apart() -> None:
    attempts, rng = Attempts(RetryPolicy(max_retries=1, backoff=Backoff(0.5, 10.0))), random.Random(1)
    assert attempts.after(WorkerLostError(), rng, worker_lost=True) == 0.0  # another worker takes it at once
    assert 0.0 <= attempts.after(NepseServerError("503"), rng) <= 0.5  # the backoff of a first retry
    with pytest.raises(NepseServerError):
        attempts.after(NepseServerError("502"), rng)
    with pytest.raises(WorkerLostError):
        attempts.after(WorkerLostError(), rng, worker_lost=True)
    assert (attempts.errors, attempts.losses) == (1, 1)


def test_attempts_end_a_request_at_once_on_a_final_error_or_a_refused_wait() -> None:
    policy = RetryPolicy(max_retries=3, backoff=Backoff(0.5, 10.0), max_retry_after=5.0)
    attempts, rng = Attempts(policy), random.Random(1)
    with pytest.raises(NepseClientRequestError):
        attempts.after(NepseClientRequestError("404"), rng)
    with pytest.raises(NepseRateLimitedError) as refused:
        attempts.after(NepseServerError("503", retry_after=600.0), rng)
    assert not refused.value.retryable
    assert attempts.after(NepseRateLimitedError("429", retry_after=2.0), rng) >= 2.0
    assert attempts.errors == 1


def refused(token: int, status: int = 401) -> TokenRefused:
    error = NepseAuthError if status == 401 else NepseForbiddenError
    return TokenRefused(error(f"HTTP {status} again with a freshly proved token", endpoint="floorsheet"), token)


def test_a_token_refused_after_a_fresh_prove_sends_the_request_to_another_token_until_three_refused() -> None:
    policy = RetryPolicy(max_retries=3, backoff=Backoff(0.5, 10.0), refusing_tokens=3)
    attempts, rng = Attempts(policy), random.Random(1)
    assert attempts.after(refused(0), rng, worker="w1") == 0.0  # another token, at once
    assert attempts.after(refused(0, 403), rng, worker="w2") == 0.0
    with pytest.raises(NepseAuthError, match="freshly proved"):
        attempts.after(refused(1), rng, worker="w2")  # a third distinct token: the site refuses this client
    assert (attempts.errors, attempts.losses) == (0, 0)


def test_the_same_token_refusing_again_counts_as_a_failure_with_backoff() -> None:
    policy = RetryPolicy(max_retries=1, backoff=Backoff(0.5, 10.0), refusing_tokens=3)
    attempts, rng = Attempts(policy), random.Random(1)
    assert attempts.after(refused(0), rng, worker="w1") == 0.0
    assert 0.0 <= attempts.after(refused(0), rng, worker="w1") <= 0.5
    with pytest.raises(NepseAuthError):
        attempts.after(refused(0), rng, worker="w1")
    assert attempts.errors == 1


def test_a_pool_of_one_token_ends_a_request_at_its_first_refusal() -> None:
    attempts = Attempts(RetryPolicy(max_retries=3, backoff=Backoff(0.5, 10.0), refusing_tokens=1))
    with pytest.raises(NepseForbiddenError):
        attempts.after(refused(0, 403), random.Random(1), worker="w1")


def test_a_refused_token_pickles_with_its_error() -> None:
    import pickle

    copy = pickle.loads(pickle.dumps(refused(2, 403)))
    assert isinstance(copy.error, NepseForbiddenError) and copy.token == 2 and "token 2 refused" in str(copy)


def test_tokens_take_turns_and_one_paused_by_a_429_is_skipped() -> None:
    assert [next_token([0.0, 0.0, 0.0], turn, now=0.0, horizon=1.0) for turn in range(4)] == [0, 1, 2, 0]
    paused = [30.0, 0.5, 0.9]  # token 0 waits out a Retry-After; the others only their normal pace
    assert [next_token(paused, turn, now=0.0, horizon=1.0) for turn in range(3)] == [1, 1, 2]
    assert next_token([30.0, 12.0], turn=0, now=0.0, horizon=1.0) == 1  # all paused: the one that resumes first
