"""The simulator's rate limits: the pure GCRA with a hand-driven clock, then the live server."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from sim_session import QUICK, proved

from nepse_ray.sim import SimConfig, Simulator
from nepse_ray.sim.limits import KeyedRateLimiter, retry_after_header
from nepse_ray.sim.stats import SimStats

MARKET_OPEN = "/api/nots/nepse-data/market-open"


def test_pacing_exactly_at_the_rate_is_never_flagged() -> None:
    limiter = KeyedRateLimiter(rate=2.0, burst=1, leeway=0.05)
    assert all(limiter.admit("t", k * 0.5) is None for k in range(100))


def test_arrival_jitter_within_leeway_is_forgiven_but_does_not_accumulate() -> None:
    limiter = KeyedRateLimiter(rate=2.0, burst=1, leeway=0.05)
    assert limiter.admit("t", 0.0) is None
    assert limiter.admit("t", 0.46) is None  # 40 ms early: forgiven
    assert limiter.admit("t", 0.92) is not None  # early again, relative to the schedule: caught


def test_blasting_is_caught_with_the_wait_until_conforming() -> None:
    limiter = KeyedRateLimiter(rate=2.0, burst=1, leeway=0.0)
    assert limiter.admit("t", 10.0) is None
    assert limiter.admit("t", 10.1) == pytest.approx(0.4)
    assert limiter.admit("t", 10.5) is None


def test_burst_allows_back_to_back_requests_then_the_rate() -> None:
    limiter = KeyedRateLimiter(rate=1.0, burst=3, leeway=0.0)
    assert [limiter.admit("t", 0.0) for _ in range(4)] == [None, None, None, pytest.approx(1.0)]
    assert limiter.admit("t", 1.0) is None


def test_keys_are_independent_and_idle_keys_are_forgotten() -> None:
    limiter = KeyedRateLimiter(rate=1.0)
    assert limiter.admit("a", 0.0) is None
    assert limiter.admit("b", 0.0) is None
    assert limiter.admit("a", 0.2) is not None
    limiter.forget_idle(now=5.0)
    assert limiter.admit("a", 5.0) is None


def test_invalid_parameters_are_refused() -> None:
    with pytest.raises(ValueError):
        KeyedRateLimiter(rate=0)
    with pytest.raises(ValueError):
        KeyedRateLimiter(rate=1, burst=0)


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    assert retry_after_header(0.01) == "1"
    assert retry_after_header(1.2) == "2"


def test_the_smallest_gap_per_token_follows_the_order_requests_were_sent_in() -> None:
    stats = SimStats(floorsheet_rows=500, page_size=500)
    for label, sent in [("a", 0.0), ("b", 0.1), ("a", 1.0), ("a", 0.7), ("b", 0.6), ("a", 1.5)]:
        stats.count_sent(label, sent)  # a: 0.0, 0.7, 1.0, 1.5 as sent (0.7 counted after 1.0)
    assert stats.snapshot()["min_gap_per_token"] == pytest.approx({"a": 0.3, "b": 0.5})


@pytest.fixture(scope="module")
def limited() -> Iterator[Simulator]:
    """The strict limits nepse-ray's pool is measured against: 2 req/s per token, burst 1, 429 past it."""
    with Simulator(**{**QUICK, "rate_limit": 2.0, "burst": 1, "on_excess": "429"}) as sim:
        yield sim


def test_a_client_pacing_at_two_per_second_records_no_violation(limited: Simulator) -> None:
    limited.reset_stats()
    session = proved(limited)
    for k in range(4):
        if k:
            time.sleep(0.5)
        assert session.get(MARKET_OPEN).status_code == 200
    stats = limited.stats()
    assert stats["rate_limit_violations"] == 0
    assert stats["max_rate_per_token"] <= 3


def test_the_gap_per_token_is_measured_as_sent_before_the_simulated_latency(limited: Simulator) -> None:
    limited.configure(latency_ms=50.0, jitter_ms=200.0)
    try:
        limited.reset_stats()
        session = proved(limited)
        for k in range(3):
            if k:
                time.sleep(0.5)
            session.get(MARKET_OPEN)
        stats = limited.stats()
    finally:
        limited.configure(latency_ms=0.0, jitter_ms=0.0)
    # Each request left after the previous answer and a 0.5 s pause: as sent, 0.5 s apart at least; after a latency
    # of 50-250 ms each, as the limiter sees them, they may be closer.
    ((label, gap),) = stats["min_gap_per_token"].items()
    assert gap >= 0.5 and stats["requests_per_token"][label] == 3


def test_a_blasting_client_gets_429_with_retry_after(limited: Simulator) -> None:
    limited.reset_stats()
    session = proved(limited)
    statuses = [session.get(MARKET_OPEN) for _ in range(6)]
    refused = [r for r in statuses if r.status_code == 429]
    assert statuses[0].status_code == 200
    assert refused and all(r.headers["Retry-After"] == "1" for r in refused)
    stats = limited.stats()
    assert stats["rate_limit_violations"] == len(refused)
    label = next(iter(stats["requests_per_token"]))
    assert stats["violations_per_token"] == {label: len(refused)}
    assert stats["max_rate_per_token"] >= 6


def test_each_token_has_its_own_allowance(limited: Simulator) -> None:
    limited.reset_stats()
    first, second = proved(limited), proved(limited)
    assert first.get(MARKET_OPEN).status_code == 200
    assert second.get(MARKET_OPEN).status_code == 200
    assert limited.stats()["rate_limit_violations"] == 0


def test_on_excess_drop_closes_the_connection(limited: Simulator) -> None:
    limited.configure(on_excess="drop")
    try:
        session = proved(limited)
        assert session.get(MARKET_OPEN).status_code == 200
        with pytest.raises(requests.ConnectionError):
            session.get(MARKET_OPEN)
    finally:
        limited.configure(on_excess="429")


def test_on_excess_empty_answers_an_empty_list(limited: Simulator) -> None:
    limited.configure(on_excess="empty")
    try:
        session = proved(limited)
        assert session.get(MARKET_OPEN).json()["id"] == 80
        second = session.get(MARKET_OPEN)
        assert (second.status_code, second.json()) == (200, [])
    finally:
        limited.configure(on_excess="429")


def test_turning_the_limit_off_at_runtime(limited: Simulator) -> None:
    limited.configure(rate_limit=None)
    try:
        limited.reset_stats()
        session = proved(limited)
        assert all(session.get(MARKET_OPEN).status_code == 200 for _ in range(5))
        assert limited.stats()["rate_limit_violations"] == 0
    finally:
        limited.configure(rate_limit=2.0)


def test_per_address_limit_counts_every_api_request() -> None:
    with Simulator(**{**QUICK, "address_rate_limit": 1.0, "on_excess": "429"}) as sim:
        session = proved(sim)  # the prove itself uses the address's allowance
        response = session.get(MARKET_OPEN)
        assert response.status_code == 429
        assert sim.stats()["rate_limit_violations"] == 1


def test_default_leeway_still_catches_any_sustained_excess() -> None:
    limiter = KeyedRateLimiter(rate=2.0, burst=1, leeway=SimConfig().rate_leeway)
    arrivals = [i / 2.1 for i in range(60)]  # 5% over the limit, evenly spaced
    flagged = [now for now in arrivals if limiter.admit("t", now) is not None]
    # Each request is 0.024 s early, so the leeway is used up after about ten: caught within ~5 s, then steadily.
    assert flagged and flagged[0] < 6.0
    assert len(flagged) >= 2


def test_default_leeway_still_flags_back_to_back_requests() -> None:
    limiter = KeyedRateLimiter(rate=2.0, burst=1, leeway=SimConfig().rate_leeway)
    assert limiter.admit("t", 0.0) is None
    assert limiter.admit("t", 0.01) is not None
