"""The simulator's answers satisfy what the real captures show, after the close and while the market is open."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sim_session import BUSINESS_DATE, QUICK, SimSession, proved

from nepse_ray.nepse import models as m
from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.sim import Simulator

A_YEAR_BEFORE = BUSINESS_DATE.replace(year=BUSINESS_DATE.year - 1)


@pytest.fixture(scope="module", params=[False, True], ids=["closed", "open"])
def site(request: pytest.FixtureRequest) -> Iterator[tuple[SimSession, bool]]:
    with Simulator(**QUICK, market_open=request.param) as sim:
        yield proved(sim), request.param


def call(site: tuple[SimSession, bool], name: str, **params: Any) -> Any:
    return site[0].call(name, **params).json()


def test_an_index_close_is_the_previous_sessions_close(site: tuple[SimSession, bool]) -> None:
    session, is_open = site
    for raw in call(site, "nepse_index"):
        value = m.IndexValue.model_validate(raw)
        assert value.change == round(value.current_value - value.close, 2)  # type: ignore[operator]
        history = session.get(f"/api/nots/index/history/{value.id}").json()["content"]
        yesterday = history[0] if is_open else history[1]
        assert value.close == yesterday["closingIndex"]
        if not is_open:  # after the evening update previousClose holds today's close
            assert value.previous_close == value.current_value == history[0]["closingIndex"]
        else:
            assert round(value.previous_close, 2) == value.close  # type: ignore[arg-type]


def test_sub_index_elements_carry_only_five_fields(site: tuple[SimSession, bool]) -> None:
    subs = call(site, "sub_indices")
    assert len(subs) == 13 and all(set(s) == {"id", "index", "change", "perChange", "currentValue"} for s in subs)


def test_the_market_summary_has_four_items_while_open_and_six_after(site: tuple[SimSession, bool]) -> None:
    details = [item["detail"] for item in call(site, "market_summary")]
    assert len(details) == (4 if site[1] else 6) and details[0] == "Total Turnover Rs:"


def test_a_movers_cp_is_its_close_and_zero_while_open(site: tuple[SimSession, bool]) -> None:
    rows = call(site, "top_gainers") + call(site, "top_losers")
    assert rows
    for row in rows:
        assert row["cp"] == (0 if site[1] else row["ltp"])
        assert m.TopMover.model_validate(row).cp == (None if site[1] else row["ltp"])


def test_the_days_close_is_none_while_open(site: tuple[SimSession, bool]) -> None:
    prices = call(site, "today_price", size=500)["content"]
    stats = call(site, "price_volume")
    detail = call(site, "security_detail", security_id=prices[0]["securityId"])["securityDailyTradeDto"]
    if site[1]:
        assert {r["closePrice"] for r in prices} == {None} and {r["closePrice"] for r in stats} == {None}
        assert detail["closePrice"] == 0 and m.SecurityDailyTrade.model_validate(detail).close_price is None
    else:
        assert all(r["closePrice"] == r["lastUpdatedPrice"] for r in prices) and detail["closePrice"] > 0


def test_a_security_listed_today_shows_zero_for_its_previous_close_and_reads_none(
    site: tuple[SimSession, bool],
) -> None:
    first_days = [r for r in call(site, "today_price", size=500)["content"] if r["previousDayClosePrice"] == 0]
    assert first_days and all(r["fiftyTwoWeekHigh"] == 0 for r in first_days)
    row = CATALOGUE["today_price"].parse({"content": first_days, "totalElements": 1, "totalPages": 1}).content[0]
    assert (row.previous_day_close_price, row.fifty_two_week_high) == (None, None)
    live = {r["symbol"]: r for r in call(site, "live_market")}
    new = live[first_days[0]["symbol"]]
    assert (new["previousClose"], new["percentageChange"]) == (0, 0)


def test_times_are_naive_nepal_time_as_the_site_writes_them(site: tuple[SimSession, bool]) -> None:
    live = call(site, "live_market")[0]
    assert live["lastUpdatedDateTime"][10] == " "  # a space, as captured
    parsed = m.LiveMarketRow.model_validate(live).last_updated_date_time
    assert parsed is not None and parsed.utcoffset() == dt.timedelta(hours=5, minutes=45)
    as_of = m.MarketOpen.model_validate(call(site, "market_open")).as_of
    assert as_of.date() == BUSINESS_DATE and as_of.hour == (12 if site[1] else 15)


def test_broker_fields_are_null_while_open(site: tuple[SimSession, bool]) -> None:
    row = call(site, "floorsheet", size=1)["floorsheets"]["content"][0]
    assert (row["buyerMemberId"] is None) == site[1] and (row["sellerBrokerName"] is None) == site[1]


def test_histories_are_the_last_year(site: tuple[SimSession, bool]) -> None:
    session, _ = site
    sid = int(call(site, "price_volume")[0]["securityId"])
    history = call(site, "security_price_history", security_id=sid, start_date="2020-01-01", size=10_000)
    assert history["size"] == 2_000
    assert min(r["businessDate"] for r in history["content"]) >= A_YEAR_BEFORE.isoformat()
    index = session.get("/api/nots/index/history/58", startDate="2020-01-01", endDate="2024-12-31").json()
    assert index["size"] == 20 and index["totalElements"] < 265
