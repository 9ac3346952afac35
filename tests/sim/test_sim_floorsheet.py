"""The floorsheet: Spring pages of the day's trades, contractId descending, with filters and ground truth."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sim_session import BUSINESS_DATE, QUICK, SimSession, proved

from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.payload import PayloadVariant
from nepse_ray.sim import Simulator

PAGE_KEYS = {
    "content",
    "pageable",
    "totalPages",
    "totalElements",
    "size",
    "number",
    "numberOfElements",
    "first",
    "last",
    "empty",
    "sort",
}


def walk(session: SimSession, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    first = session.call("floorsheet", page=0, **params).json()
    rows = list(first["floorsheets"]["content"])
    for page in range(1, first["floorsheets"]["totalPages"]):
        rows += session.call("floorsheet", page=page, **params).json()["floorsheets"]["content"]
    return rows, first


def test_a_full_walk_of_the_default_day_matches_the_ground_truth() -> None:
    with Simulator(business_date=BUSINESS_DATE, day_source="asof", rate_limit=None) as sim:
        stats = sim.stats()
        rows, first = walk(proved(sim))
    assert stats["floorsheet_rows"] == 50_000 and stats["floorsheet_pages"] == 100
    assert first["floorsheets"]["totalPages"] == 100 and first["totalTrades"] == 50_000
    ids = [row["contractId"] for row in rows]
    assert len(ids) == len(set(ids)) == stats["floorsheet_rows"]
    assert ids == sorted(ids, reverse=True)


def test_page_shape_rows_and_totals(sim: Simulator) -> None:
    rows, first = walk(proved(sim))
    page = first["floorsheets"]
    assert set(page) == PAGE_KEYS
    assert (page["number"], page["size"], page["numberOfElements"]) == (0, 500, 500)
    assert page["first"] is True and page["last"] is False and page["empty"] is False
    assert page["totalElements"] == len(rows) == sim.stats()["floorsheet_rows"] == 5_000
    assert first["totalQty"] == sum(r["contractQuantity"] for r in rows)
    assert first["totalAmount"] == pytest.approx(sum(r["contractQuantity"] * r["contractRate"] for r in rows))
    row = rows[0]
    assert str(row["contractId"]).startswith(BUSINESS_DATE.strftime("%Y%m%d")) and len(str(row["contractId"])) == 16
    assert isinstance(row["buyerMemberId"], str) and isinstance(row["sellerMemberId"], str)
    assert row["businessDate"] == BUSINESS_DATE.isoformat()
    assert row["contractAmount"] == round(row["contractQuantity"] * row["contractRate"], 2)
    assert dt.datetime.fromisoformat(row["tradeTime"]).date() == BUSINESS_DATE
    times = [r["tradeTime"] for r in rows]
    assert times == sorted(times, reverse=True)
    CATALOGUE["floorsheet"].parse(first)


def test_the_last_page_and_beyond(sim: Simulator) -> None:
    session = proved(sim)
    last = session.call("floorsheet", page=9).json()["floorsheets"]
    assert last["last"] is True and last["numberOfElements"] == 500
    beyond = session.call("floorsheet", page=10).json()["floorsheets"]
    assert beyond["content"] == [] and beyond["empty"] is True and beyond["totalElements"] == 5_000


def test_page_size_is_capped_at_500(sim: Simulator) -> None:
    session = proved(sim)
    page = session.call("floorsheet", size=2000).json()["floorsheets"]
    assert page["size"] == 500 and len(page["content"]) == 500 and page["totalPages"] == 10
    small = session.call("floorsheet", size=7, page=3).json()["floorsheets"]
    assert len(small["content"]) == 7 and small["pageable"]["offset"] == 21


@pytest.mark.parametrize(
    "field,param", [("stockId", "stock_id"), ("buyerMemberId", "buyer_broker"), ("sellerMemberId", "seller_broker")]
)
def test_filters(sim: Simulator, field: str, param: str) -> None:
    session = proved(sim)
    everything, _ = walk(session)
    value = everything[0][field]
    expected = [r for r in everything if r[field] == value]
    filtered, first = walk(session, **{param: int(value)})
    assert filtered == expected
    assert first["totalTrades"] == len(expected)


def test_filters_combine(sim: Simulator) -> None:
    session = proved(sim)
    row = session.call("floorsheet", size=1).json()["floorsheets"]["content"][0]
    rows, _ = walk(session, stock_id=row["stockId"], buyer_broker=int(row["buyerMemberId"]))
    assert row in rows
    assert all(r["stockId"] == row["stockId"] and r["buyerMemberId"] == row["buyerMemberId"] for r in rows)


def test_other_business_dates_are_empty_pages(sim: Simulator) -> None:
    session = proved(sim)
    page = session.call("floorsheet", business_date=BUSINESS_DATE - dt.timedelta(days=1)).json()
    assert page["floorsheets"]["content"] == [] and page["totalTrades"] == 0
    served = session.call("floorsheet", business_date=BUSINESS_DATE, size=3).json()
    assert len(served["floorsheets"]["content"]) == 3


def test_security_floorsheet_is_the_sites_nginx_403_page_by_default(sim: Simulator) -> None:
    session = proved(sim)
    stock = session.call("floorsheet", size=1).json()["floorsheets"]["content"][0]["stockId"]
    refused = session.call("security_floorsheet", security_id=stock, business_date=BUSINESS_DATE)
    assert (refused.status_code, refused.headers["Content-Type"]) == (403, "text/html")
    assert b"<center>nginx</center>" in refused.content
    anonymous = SimSession(sim).post(f"/api/nots/security/floorsheet/{stock}", {})
    assert anonymous.status_code == 403  # nginx refuses before the token is looked at


def test_security_floorsheet_rows_as_an_option_are_the_filtered_floorsheet() -> None:
    with Simulator(**QUICK, security_floorsheet_rows=True) as sim:
        session = proved(sim)
        stock = session.call("floorsheet", size=1).json()["floorsheets"]["content"][0]["stockId"]
        mine = session.call("security_floorsheet", security_id=stock, business_date=BUSINESS_DATE).json()
        filtered = session.call("floorsheet", stock_id=stock).json()
        assert mine == filtered
        unknown = session.call("security_floorsheet", security_id=99_999, business_date=BUSINESS_DATE)
        assert unknown.status_code == 404


def test_bad_query_values_are_400(sim: Simulator) -> None:
    session = proved(sim)
    body = {"id": session.payload_id(PayloadVariant.FLOORSHEET, BUSINESS_DATE.day)}
    for params in ({"page": "x"}, {"size": "0"}, {"page": "-1"}, {"businessDate": "30-10-2025"}):
        assert session.post("/api/nots/nepse-data/floorsheet", body, **params).status_code == 400, params


def test_broker_fields_are_null_while_the_market_is_open() -> None:
    with Simulator(**QUICK, market_open=True) as sim:
        session = proved(sim)
        status = session.call("market_open").json()
        rows = session.call("floorsheet").json()["floorsheets"]["content"]
    assert status["isOpen"] == "OPEN" and "." in status["asOf"]
    assert all(
        r["buyerMemberId"] is None and r["sellerMemberId"] is None and r["buyerBrokerName"] is None for r in rows
    )


def test_same_seed_gives_identical_page_bytes_and_another_seed_does_not() -> None:
    def page_bytes(seed: int) -> bytes:
        with Simulator(**{**QUICK, "seed": seed}) as sim:
            return proved(sim).call("floorsheet", page=3).content

    assert page_bytes(21) == page_bytes(21)
    assert page_bytes(21) != page_bytes(22)
