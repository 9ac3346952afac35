"""NepseClient after a 429: the whole client waits Retry-After, within a cap and a retry budget."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from client_rig import FLOORSHEET, SUMMARY, Rig, assert_leaks_nothing
from nepse_fakes import PROVE_PATH, json_response

from nepse_ray.nepse.client import _retry_after_seconds
from nepse_ray.nepse.errors import NepseRateLimitedError

# -- 429 ----------------------------------------------------------------------------------------------


def test_429_sleeps_retry_after_and_retries(rig: Rig) -> None:
    rig.fake.script(FLOORSHEET, json_response({"error": "slow down"}, 429, {"Retry-After": "3"}))
    rig.client.floorsheet()
    assert rig.clock.sleeps == [3.0]
    assert rig.client.stats()["rate_limited"] == 1
    ids = rig.body_ids(FLOORSHEET)
    assert len(ids) == 2 and ids[0] == ids[1]  # same token, so the same id, recomputed


def test_429_gives_up_after_max_retries(rig: Rig) -> None:
    rig.fake.script(SUMMARY, *[json_response({}, 429, {"retry-after": "3"})] * 3)
    with pytest.raises(NepseRateLimitedError) as info:
        rig.client.market_summary()
    error = info.value
    assert (type(error), error.retryable, error.status, error.retry_after) == (NepseRateLimitedError, True, 429, 3.0)
    assert rig.clock.sleeps == [3.0, 3.0]
    assert rig.client.stats()["rate_limited"] == 3
    assert_leaks_nothing(error, rig.secrets())


@pytest.mark.parametrize(
    ("header", "waits"),
    [(None, [1.0]), ("0", []), ("2.5", [2.5]), ("60", [60.0]), ("soon", [1.0]), ("Wed, 21 Oct 2015 07:28:00 GMT", [])],
)
def test_retry_after_forms(rig: Rig, header: str | None, waits: list[float]) -> None:
    headers = {} if header is None else {"Retry-After": header}
    rig.fake.script(SUMMARY, json_response({}, 429, headers))
    rig.client.market_summary()
    assert rig.clock.sleeps == pytest.approx(waits)


@pytest.mark.parametrize("header", ["61", "3600", "86400"])
def test_a_retry_after_beyond_the_cap_fails_at_once_and_says_how_long(rig: Rig, header: str) -> None:
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": header}))
    with pytest.raises(NepseRateLimitedError, match=f"asked to wait {header} s.*max_retry_after=60 s") as info:
        rig.client.market_summary()
    error = info.value
    assert (error.retryable, error.status, error.retry_after) == (False, 429, float(header))
    assert rig.clock.sleeps == [] and len(rig.fake.requests_to(SUMMARY)) == 1
    assert_leaks_nothing(error, rig.secrets())


def test_max_retry_after_is_configurable() -> None:
    rig = Rig(max_retry_after=5.0)
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": "6"}))
    with pytest.raises(NepseRateLimitedError, match="max_retry_after=5 s"):
        rig.client.market_summary()


def test_a_429_pauses_the_whole_client_not_only_the_request_that_got_it() -> None:
    rig = Rig(max_rate_limit_retries=0)
    rig.client.market_summary()  # prove first
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": "4"}))
    with pytest.raises(NepseRateLimitedError):
        rig.client.market_summary()
    refused_at = rig.clock()

    threads = [threading.Thread(target=rig.client.floorsheet) for _ in range(3)]  # other callers, other endpoints
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sent = [s for s in rig.fake.sent if s.path == FLOORSHEET]
    assert len(sent) == 3
    assert rig.clock() - refused_at >= 4.0 - 1e-9  # nobody sent anything before the pause was over
    assert rig.clock.sleeps and rig.clock.sleeps[0] == pytest.approx(4.0, abs=0.02)


def test_retry_after_http_date_in_the_future() -> None:
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=120)
    assert 100 < _retry_after_seconds(when.strftime("%a, %d %b %Y %H:%M:%S GMT")) <= 120


def test_no_429_retries_when_disabled() -> None:
    rig = Rig(max_rate_limit_retries=0)
    rig.fake.script(SUMMARY, json_response({}, 429, {"Retry-After": "7"}))
    with pytest.raises(NepseRateLimitedError) as info:
        rig.client.market_summary()
    assert info.value.retry_after == 7.0
    assert rig.clock.sleeps == []


def test_429_on_the_prove_is_retried_too(rig: Rig) -> None:
    rig.fake.script(PROVE_PATH, json_response({}, 429))
    assert rig.client.get_access_token() == rig.fake.issued[0].access_token
    assert rig.clock.sleeps == [1.0]
