"""Signed POST bodies: the id must match the salts of the token presented, the market id and the day term."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sim_session import BUSINESS_DATE, QUICK, proved

from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.payload import DUMMY_DATA, NEPAL_TZ, VARIANT_BY_ENDPOINT, PayloadVariant
from nepse_ray.sim import Simulator

SIGNED_CALLS: dict[str, dict[str, Any]] = {
    "security_detail": {"security_id": None},
    "stock_intraday_graph": {"security_id": None},
    "daily_price_graph": {"security_id": None},
    "index_intraday_graph": {"index_id": 58},
    "floorsheet": {},
    "security_floorsheet": {"security_id": None, "business_date": BUSINESS_DATE},
    "today_price": {},
}


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """With the per-company floorsheet's rows on, so its signed body is checked like the others'."""
    with Simulator(**QUICK, security_floorsheet_rows=True) as simulator:
        yield simulator


def _params(name: str, traded_id: int) -> dict[str, Any]:
    return {k: traded_id if v is None else v for k, v in SIGNED_CALLS[name].items()}


def test_the_table_covers_every_signed_endpoint() -> None:
    assert set(SIGNED_CALLS) == set(VARIANT_BY_ENDPOINT) == {n for n, e in CATALOGUE.items() if e.signed}


@pytest.mark.parametrize("name", sorted(SIGNED_CALLS))
def test_correct_id_gets_data_and_wrong_id_gets_an_empty_list(sim: Simulator, traded_id: int, name: str) -> None:
    session = proved(sim)
    params = _params(name, traded_id)
    good = session.call(name, **params)
    assert good.status_code == 200 and good.json() not in ([], {})
    CATALOGUE[name].parse(good.json())
    other = next(
        v for v in PayloadVariant if session.payload_id(v, 30) != session.payload_id(VARIANT_BY_ENDPOINT[name], 30)
    )
    wrong = session.call(name, variant=other, **params)
    assert (wrong.status_code, wrong.json()) == (200, [])


def test_missing_or_malformed_bodies_get_an_empty_list(sim: Simulator) -> None:
    session = proved(sim)
    path = "/api/nots/nepse-data/floorsheet"
    for body in (None, {}, {"id": None}, {"id": True}, [1], {"id": "abc"}):
        response = session.post(path, body)
        assert (response.status_code, response.json()) == (200, []), body
    response = session.http.post(sim.base_url + path, data=b"{not json", timeout=10)
    assert response.json() == []


def test_a_numeric_string_id_is_accepted_like_the_sites_json_binding(sim: Simulator) -> None:
    session = proved(sim)
    good = session.payload_id(PayloadVariant.FLOORSHEET, BUSINESS_DATE.day)
    response = session.post("/api/nots/nepse-data/floorsheet", {"id": str(good)}, size=10)
    assert len(response.json()["floorsheets"]["content"]) == 10


def test_the_salts_of_another_token_do_not_sign(sim: Simulator) -> None:
    holder, other = proved(sim), proved(sim)
    body = {"id": other.payload_id(PayloadVariant.FLOORSHEET, BUSINESS_DATE.day)}
    assert holder.post("/api/nots/nepse-data/floorsheet", body).json() == []


def test_the_market_id_is_part_of_the_id(sim: Simulator) -> None:
    sim.configure(market_id=81)
    try:
        session = proved(sim)
        assert session.call("market_open").json()["id"] == 81
        assert session.call("floorsheet").json() == []
        good = session.payload_id(PayloadVariant.FLOORSHEET, BUSINESS_DATE.day, market_id=81)
        assert session.post("/api/nots/nepse-data/floorsheet", {"id": good}).json() != []
    finally:
        sim.configure(market_id=80)


def _distinct_business_date() -> dt.date:
    """A trading day whose day of month is neither today's (Nepal or local) nor next to it."""
    now = dt.datetime.now(dt.timezone.utc)
    avoid = {
        d.day
        for base in (now.astimezone(NEPAL_TZ), now.astimezone())
        for d in (base - dt.timedelta(1), base, base + dt.timedelta(1))
    }
    day = dt.date(2025, 10, 1)
    while day.day in avoid or day.weekday() in (4, 5):
        day += dt.timedelta(days=1)
    return day


@pytest.mark.parametrize("source", ["nepal", "local", "asof"])
def test_each_day_source(source: str) -> None:
    business_date = _distinct_business_date()
    days = {
        "nepal": dt.datetime.now(NEPAL_TZ).day,
        "local": dt.datetime.now().day,
        "asof": business_date.day,
    }
    with Simulator(**{**QUICK, "business_date": business_date, "day_source": source}) as sim:
        session = proved(sim)
        accepted = session.call("floorsheet", day=days[source], size=5)
        assert len(accepted.json()["floorsheets"]["content"]) == 5
        for other, day in days.items():
            if day != days[source]:
                assert session.call("floorsheet", day=day, size=5).json() == [], other


def _market_id_where_b_and_floorsheet_differ(day: int) -> int:
    return next(m for m in range(100) if (DUMMY_DATA[m] + m + 2 * day) % 10 == 4)


def test_today_price_accepts_b_by_default_and_floorsheet_when_configured(sim: Simulator) -> None:
    market_id = _market_id_where_b_and_floorsheet_differ(BUSINESS_DATE.day)
    sim.configure(market_id=market_id)
    try:
        session = proved(sim)

        def today_price(variant: PayloadVariant) -> object:
            body = {"id": session.payload_id(variant, BUSINESS_DATE.day, market_id=market_id)}
            return session.post("/api/nots/nepse-data/today-price", body).json()

        assert today_price(PayloadVariant.B) != []
        assert today_price(PayloadVariant.FLOORSHEET) == []
        sim.configure(today_price_variant="floorsheet")
        assert today_price(PayloadVariant.B) == []
        assert today_price(PayloadVariant.FLOORSHEET) != []
    finally:
        sim.configure(market_id=80, today_price_variant="b")
