"""Every catalogue endpoint is served, and every answer validates against nepse_ray.nepse.models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sim_session import BUSINESS_DATE, QUICK, SimSession, proved, sample_params

from nepse_ray.nepse import models as m
from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.sim import Simulator
from nepse_ray.sim.market import SECTORS


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """With the per-company floorsheet's rows on, so every catalogue endpoint answers data."""
    with Simulator(**QUICK, security_floorsheet_rows=True) as simulator:
        yield simulator


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_endpoint_answers_with_its_model(session: SimSession, traded_id: int, name: str) -> None:
    response = session.call(name, **sample_params(name, traded_id))
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    parsed = CATALOGUE[name].parse(response.json())
    assert parsed  # non-empty list, page or object


def test_every_catalogue_endpoint_was_counted_under_its_name(
    sim: Simulator, session: SimSession, traded_id: int
) -> None:
    for name in CATALOGUE:
        session.call(name, **sample_params(name, traded_id))
    assert set(CATALOGUE) <= set(sim.stats()["requests_per_endpoint"])


def test_indices(session: SimSession) -> None:
    main = [m.IndexValue.model_validate(x) for x in session.call("nepse_index").json()]
    subs = [m.IndexValue.model_validate(x) for x in session.call("sub_indices").json()]
    assert sorted(i.id for i in main) == [57, 58, 62, 63]
    assert sorted(i.id for i in subs) == [i for i in range(51, 68) if i not in (57, 58, 62, 63)]
    nepse = next(i for i in main if i.id == 58)
    assert nepse.index == "NEPSE Index" and nepse.low <= nepse.current_value <= nepse.high  # type: ignore[operator]
    graph = CATALOGUE["index_intraday_graph"].parse(session.call("index_intraday_graph", index_id=58).json())
    assert graph[-1][1] == nepse.current_value and len(graph) > 400


def test_listing_sizes_and_sectors(session: SimSession) -> None:
    securities = session.call("security_list").json()
    everything = session.call("security_list", non_delisted=False).json()
    companies = session.call("company_list").json()
    assert 500 <= len(securities) < len(everything)
    assert 550 <= len(companies) <= 650
    assert {c["sectorName"] for c in companies} == {s.name for s in SECTORS} and len(SECTORS) == 13
    assert all(s["name"] == f"({s['symbol']}) {s['securityName']}" for s in securities)
    assert len({s["symbol"] for s in everything}) == len(everything)
    company_ids = {c["id"] for c in companies}
    assert any(s["id"] not in company_ids for s in securities)  # promoter shares


def test_per_security_answers_agree(session: SimSession, traded_id: int) -> None:
    detail = m.SecurityDetail.model_validate(session.call("security_detail", security_id=traded_id).json())
    ticks = session.call("stock_intraday_graph", security_id=traded_id).json()
    today = [r for r in session.call("today_price").json()["content"] if r["securityId"] == traded_id]
    assert detail.security_daily_trade_dto is not None
    assert detail.security_daily_trade_dto.total_trades == len(ticks) == today[0]["totalTrades"]
    assert detail.security_daily_trade_dto.last_traded_price == ticks[-1]["contractRate"]
    history = session.call("security_price_history", security_id=traded_id, size=5).json()
    assert history["content"][0]["businessDate"] == BUSINESS_DATE.isoformat()
    assert 250 < history["totalElements"] < 265  # the Sun-Thu days of the last year


def test_price_history_date_window_and_paging(session: SimSession, traded_id: int) -> None:
    start, end = dt.date(2025, 9, 1), dt.date(2025, 9, 30)
    page = session.call("security_price_history", security_id=traded_id, start_date=start, end_date=end).json()
    dates = [dt.date.fromisoformat(r["businessDate"]) for r in page["content"]]
    assert dates and all(start <= d <= end for d in dates) and dates == sorted(dates, reverse=True)
    assert all(d.weekday() not in (4, 5) for d in dates)  # no Friday or Saturday trading
    second = session.call("index_history", index_id=58, page=1, size=10).json()
    assert second["number"] == 1 and len(second["content"]) == 10


def test_unknown_ids_are_404_json(session: SimSession) -> None:
    unknown: tuple[tuple[str, dict[str, Any]], ...] = (
        ("market_depth", {"security_id": 1}),
        ("security_detail", {"security_id": 1}),
        ("security_price_history", {"security_id": 1}),
        ("index_history", {"index_id": 99}),
        ("index_intraday_graph", {"index_id": 50}),
    )
    for name, params in unknown:
        response = session.call(name, **params)
        assert response.status_code == 404, name
        assert response.json()["status"] == 404


def test_trailing_slash_variants_are_served(session: SimSession, traded_id: int) -> None:
    assert session.get("/api/nots/market-summary").status_code == 200
    assert session.get(f"/api/nots/nepse-data/marketdepth/{traded_id}/").status_code == 200


def test_closes_are_null_while_the_market_is_open() -> None:
    with Simulator(**QUICK, market_open=True) as sim:
        s = proved(sim)
        assert all(r["closePrice"] is None for r in s.call("price_volume").json())
        assert all(r["closePrice"] is None for r in s.call("today_price").json()["content"])
