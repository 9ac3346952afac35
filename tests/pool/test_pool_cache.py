"""Shared results without Ray: the TTL rules on Nepal's date, overrides, expiry and the byte bound."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from nepse_fakes import FakeClock

from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.pool.cache import CachePolicy, ResultCache

#: 23:00 in Kathmandu on 30 Nov 2026 is 17:15 UTC the same day; 00:30 on 1 Dec is 18:45 UTC on 30 Nov.
LATE_EVENING = dt.datetime(2026, 11, 30, 23, 0, tzinfo=NEPAL_TZ)
JUST_AFTER_MIDNIGHT = dt.datetime(2026, 11, 30, 18, 45, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("endpoint", "query", "now", "expected"),
    [
        ("security_list", {}, LATE_EVENING, 3600.0),
        ("company_list", {}, LATE_EVENING, 3600.0),
        ("security_list", {}, JUST_AFTER_MIDNIGHT, 23.5 * 3600),  # already 1 Dec in Nepal
        ("market_open", {}, LATE_EVENING, 5.0),
        ("floorsheet", {"businessDate": "2026-11-29"}, LATE_EVENING, math.inf),
        ("floorsheet", {"businessDate": "2026-11-30"}, LATE_EVENING, None),  # today: still trading or settling
        ("floorsheet", {"businessDate": "2026-11-30"}, JUST_AFTER_MIDNIGHT, math.inf),  # yesterday, in Nepal
        ("floorsheet", {}, LATE_EVENING, None),  # the live day
        ("security_floorsheet", {"businessDate": "2026-11-01"}, LATE_EVENING, math.inf),
        ("today_price", {"businessDate": "2026-11-29"}, LATE_EVENING, math.inf),
        ("today_price", {}, LATE_EVENING, None),
        ("security_price_history", {"startDate": "2025-01-01", "endDate": "2026-11-29"}, LATE_EVENING, math.inf),
        ("security_price_history", {"endDate": "2026-11-30"}, LATE_EVENING, None),
        ("security_price_history", {}, LATE_EVENING, None),
        ("live_market", {}, LATE_EVENING, None),
        ("index_history", {}, LATE_EVENING, None),
    ],
)
def test_default_rules(endpoint: str, query: dict[str, str], now: dt.datetime, expected: float | None) -> None:
    assert CachePolicy().ttl(endpoint, query, now) == (pytest.approx(expected) if expected else expected)


def test_overrides_replace_a_rule_and_zero_turns_it_off() -> None:
    policy = CachePolicy({"market_open": 30.0, "security_list": 0, "nepse_index": 2.5})
    assert policy.ttl("market_open", {}, LATE_EVENING) == 30.0
    assert policy.ttl("security_list", {}, LATE_EVENING) is None
    assert policy.ttl("nepse_index", {}, LATE_EVENING) == 2.5
    assert policy.ttl("company_list", {}, LATE_EVENING) == pytest.approx(3600.0)  # the others keep their rules


def test_answers_expire_after_their_ttl() -> None:
    clock = FakeClock(start=0.0)
    cache: ResultCache[str] = ResultCache(1000, clock=clock)
    assert cache.put("status", "open", 10, ttl=5.0)
    clock.advance(4.9)
    assert cache.get("status") == "open"
    clock.advance(0.1)
    assert cache.get("status") is None
    assert len(cache) == 0 and cache.nbytes == 0


def test_purge_drops_every_expired_answer() -> None:
    clock = FakeClock(start=0.0)
    cache: ResultCache[str] = ResultCache(1000, clock=clock)
    cache.put("short", "a", 10, ttl=1.0)
    cache.put("long", "b", 20, ttl=math.inf)
    clock.advance(2.0)
    assert cache.purge() == 1
    assert (len(cache), cache.nbytes, cache.get("long")) == (1, 20, "b")


def test_the_byte_bound_evicts_the_least_recently_used() -> None:
    cache: ResultCache[str] = ResultCache(100, clock=FakeClock())
    for key in "abc":
        cache.put(key, key, 40, ttl=math.inf)  # c pushes a out
    assert cache.get("a") is None and cache.nbytes == 80
    cache.get("b")  # b is now more recent than c
    cache.put("d", "d", 40, ttl=math.inf)
    assert (cache.get("c"), cache.get("b"), cache.get("d")) == (None, "b", "d")
    assert cache.nbytes == 80


def test_what_cannot_fit_is_not_stored_and_a_key_is_stored_once() -> None:
    cache: ResultCache[str] = ResultCache(100, clock=FakeClock())
    assert not cache.put("huge", "x", 101, ttl=math.inf)
    assert not cache.put("never", "x", 1, ttl=0.0)
    cache.put("k", "old", 30, ttl=math.inf)
    cache.put("k", "new", 50, ttl=math.inf)
    assert (len(cache), cache.nbytes, cache.get("k")) == (1, 50, "new")


def test_seconds_left_peeks_without_reordering_and_forgets_the_expired() -> None:
    clock = FakeClock(start=0.0)
    cache: ResultCache[str] = ResultCache(100, clock=clock)
    cache.put("a", "a", 40, ttl=10.0)
    cache.put("b", "b", 40, ttl=math.inf)
    clock.advance(4.0)

    assert cache.seconds_left("a") == 6.0 and cache.seconds_left("b") == math.inf
    assert cache.seconds_left("missing") is None
    cache.put("c", "c", 40, ttl=math.inf)  # "a" is still the least recently used: the peek did not move it
    assert cache.get("a") is None and cache.get("b") == "b"
    clock.advance(100.0)
    assert cache.seconds_left("b") == math.inf
