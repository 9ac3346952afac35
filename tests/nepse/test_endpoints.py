"""The endpoint catalogue: how every call is prepared, and that every response model reads what the site sends."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from nepse_fakes import SAMPLES

from nepse_ray.nepse import models as m
from nepse_ray.nepse.endpoints import CATALOGUE, prepare
from nepse_ray.nepse.errors import NepseInputError, NepseInvalidResponseError
from nepse_ray.nepse.methods import CatalogueMethods
from nepse_ray.nepse.payload import NEPAL_TZ

PAGE0 = (("page", "0"), ("size", "500"))

PREPARED: list[tuple[str, dict[str, Any], str, tuple[tuple[str, str], ...]]] = [
    ("market_open", {}, "/api/nots/nepse-data/market-open", ()),
    ("market_summary", {}, "/api/nots/market-summary/", ()),
    ("disclosures", {}, "/api/nots/news/companies/disclosure", ()),
    ("top_ten_trade", {}, "/api/nots/top-ten/trade", ()),
    ("top_ten_transaction", {}, "/api/nots/top-ten/transaction", ()),
    ("top_ten_turnover", {}, "/api/nots/top-ten/turnover", ()),
    ("top_gainers", {}, "/api/nots/top-ten/top-gainer", ()),
    ("top_losers", {}, "/api/nots/top-ten/top-loser", ()),
    ("nepse_index", {}, "/api/nots/nepse-index", ()),
    ("sub_indices", {}, "/api/nots", ()),
    ("index_intraday_graph", {"index_id": 58}, "/api/nots/graph/index/58", ()),
    ("stock_intraday_graph", {"security_id": 131}, "/api/nots/market/graphdata/daily/131", ()),
    ("price_volume", {}, "/api/nots/securityDailyTradeStat/58", ()),
    ("security_list", {}, "/api/nots/security", (("nonDelisted", "true"),)),
    ("security_list", {"non_delisted": False}, "/api/nots/security", (("nonDelisted", "false"),)),
    ("market_depth", {"security_id": "131"}, "/api/nots/nepse-data/marketdepth/131", ()),
    ("supply_demand", {}, "/api/nots/nepse-data/supplydemand", ()),
    (
        "security_price_history",
        {"security_id": 131, "start_date": dt.date(2025, 1, 1), "end_date": "2025-10-30"},
        "/api/nots/market/history/security/131",
        (("startDate", "2025-01-01"), ("endDate", "2025-10-30"), *PAGE0),
    ),
    ("security_price_history", {"security_id": 131}, "/api/nots/market/history/security/131", PAGE0),
    ("index_history", {"index_id": 58, "page": 2, "size": 100}, "/api/nots/index/history/58",
     (("page", "2"), ("size", "100"))),
    ("daily_price_graph", {"security_id": 131}, "/api/nots/market/graphdata/131", ()),
    ("company_list", {}, "/api/nots/company/list", ()),
    ("live_market", {}, "/api/nots/lives-market", ()),
    ("security_detail", {"security_id": 131}, "/api/nots/security/131", ()),
    (
        "floorsheet",
        {"page": 3, "business_date": "2025-10-30", "stock_id": 8126, "buyer_broker": 58},
        "/api/nots/nepse-data/floorsheet",
        (("sort", "contractId,desc"), ("page", "3"), ("size", "500"), ("businessDate", "2025-10-30"),
         ("stockId", "8126"), ("buyerBroker", "58")),
    ),
    ("floorsheet", {}, "/api/nots/nepse-data/floorsheet", (("sort", "contractId,desc"), *PAGE0)),
    (
        "security_floorsheet",
        {"security_id": 131, "business_date": dt.date(2025, 10, 30)},
        "/api/nots/security/floorsheet/131",
        (("sort", "contractid,desc"), ("businessDate", "2025-10-30"), *PAGE0),
    ),
    (
        "today_price",
        {"business_date": "2026-04-02", "size": 200},
        "/api/nots/nepse-data/today-price",
        (("businessDate", "2026-04-02"), ("page", "0"), ("size", "200")),
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "params", "path", "query"), PREPARED)
def test_prepare(name: str, params: dict[str, Any], path: str, query: tuple[tuple[str, str], ...]) -> None:
    call = prepare(name, params)
    assert call.endpoint is CATALOGUE[name]
    assert (call.path, call.query) == (path, query)


def test_prepared_table_covers_every_endpoint() -> None:
    assert {name for name, *_ in PREPARED} == set(CATALOGUE)
    assert len(CATALOGUE) == 25


def test_unknown_endpoint() -> None:
    with pytest.raises(NepseInputError, match="unknown endpoint 'floor_sheet'"):
        prepare("floor_sheet", {})


def test_unknown_argument_names_what_is_accepted() -> None:
    with pytest.raises(NepseInputError, match=r"unexpected argument.*symbol.*security_id"):
        prepare("market_depth", {"security_id": 131, "symbol": "NABIL"})
    with pytest.raises(NepseInputError, match="no arguments"):
        prepare("market_open", {"page": 1})


@pytest.mark.parametrize(
    ("name", "params", "missing"),
    [
        ("security_detail", {}, "security_id"),
        ("index_intraday_graph", {}, "index_id"),
        ("security_floorsheet", {"security_id": 131}, "business_date"),
        ("security_floorsheet", {"security_id": 131, "business_date": None}, "business_date"),
    ],
)
def test_required_arguments(name: str, params: dict[str, Any], missing: str) -> None:
    with pytest.raises(NepseInputError, match=f"missing required argument {missing}"):
        prepare(name, params)


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"business_date": "30-10-2025"}, "YYYY-MM-DD"),
        ({"business_date": "2025-02-30"}, "YYYY-MM-DD"),
        ({"business_date": 20251030}, "YYYY-MM-DD"),
        ({"page": -1}, "must not be negative"),
        ({"page": dt.date(2025, 1, 1)}, "unusable value"),
        ({"stock_id": "NABIL"}, "unusable value"),
        ({"stock_id": "\u0661\u0662"}, "unusable value"),  # Arabic-Indic digits: isdigit() but not a number here
        ({"stock_id": 1.5}, "unusable value"),
    ],
)
def test_bad_argument_values(params: dict[str, Any], error: str) -> None:
    with pytest.raises(NepseInputError, match=error):
        prepare("floorsheet", params)


@pytest.mark.parametrize(
    "business_date",
    [dt.date(2026, 4, 2), dt.datetime(2026, 4, 2, 15, 30), "2026-04-02"],
)
def test_dates_travel_as_iso_days(business_date: object) -> None:
    assert ("businessDate", "2026-04-02") in prepare("today_price", {"business_date": business_date}).query


# -- response models ------------------------------------------------------------------------------------


def test_samples_cover_every_endpoint() -> None:
    assert set(SAMPLES) == set(CATALOGUE)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_response_model_reads_its_sample(name: str) -> None:
    sample = SAMPLES[name]
    parsed = CATALOGUE[name].parse(sample)
    assert isinstance(parsed, list) == isinstance(sample, list)
    if isinstance(sample, list):
        assert len(parsed) == len(sample)
    first_in, first_out = (sample[0], parsed[0]) if isinstance(sample, list) else (sample, parsed)
    if isinstance(first_in, dict) and "someNewField" in first_in:
        assert isinstance(first_out, m.NepseModel)
        assert first_out.model_extra == {"someNewField": "kept", "auditId": None}


def test_string_security_ids_are_coerced() -> None:
    (row,) = CATALOGUE["price_volume"].parse(SAMPLES["price_volume"])
    assert row.security_id == 2790
    assert row.close_price is None
    detail = CATALOGUE["security_detail"].parse(SAMPLES["security_detail"])
    assert detail.security_daily_trade_dto.security_id == 131


def test_floorsheet_rows_allow_null_brokers() -> None:
    response = CATALOGUE["floorsheet"].parse(SAMPLES["floorsheet"])
    (row,) = response.floorsheets.content
    assert (row.buyer_member_id, row.seller_member_id, row.buyer_broker_name) == (None, "38", None)
    assert row.contract_id == 2025103005017614
    assert response.floorsheets.total_pages == 3


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2025-10-30T15:00:00", dt.datetime(2025, 10, 30, 15, tzinfo=NEPAL_TZ)),
        ("2026-04-02T12:22:25.746796", dt.datetime(2026, 4, 2, 12, 22, 25, 746796, tzinfo=NEPAL_TZ)),
        ("2026-04-02 12:22:25.746796", dt.datetime(2026, 4, 2, 12, 22, 25, 746796, tzinfo=NEPAL_TZ)),
        ("2025-10-30T15:18:27.15", dt.datetime(2025, 10, 30, 15, 18, 27, 150000, tzinfo=NEPAL_TZ)),
    ],
)
def test_market_open_as_of_is_nepal_time_with_or_without_a_fraction(as_of: str, expected: dt.datetime) -> None:
    market = CATALOGUE["market_open"].parse({"isOpen": "OPEN", "asOf": as_of, "id": 80})
    assert (market.as_of, market.id, market.is_open) == (expected, 80, "OPEN")
    assert market.as_of.utcoffset() == dt.timedelta(hours=5, minutes=45)


def test_naive_times_of_every_model_are_zoned_in_nepal_time() -> None:
    live = m.LiveMarketRow.model_validate(
        {"securityId": "2788", "symbol": "AKJCL", "lastUpdatedDateTime": "2026-03-17 14:57:26.336411"}
    )
    index = m.IndexValue.model_validate({"id": 58, "index": "NEPSE Index", "generatedTime": "2025-10-30T15:18:27.15"})
    trade = m.SecurityDailyTrade.model_validate(
        {"securityId": "131", "lastUpdatedDateTime": "2026-04-02T12:21:22.274756"}
    )
    times = (live.last_updated_date_time, index.generated_time, trade.last_updated_date_time)
    assert [t.isoformat() if t else None for t in times] == [
        "2026-03-17T14:57:26.336411+05:45",
        "2025-10-30T15:18:27.150000+05:45",
        "2026-04-02T12:21:22.274756+05:45",
    ]
    assert m.IndexValue.model_validate({"id": 58, "index": "NEPSE Index", "generatedTime": None}).generated_time is None


@pytest.mark.parametrize(
    ("model", "payload", "field"),
    [
        (m.TodayPriceRow, {"closePrice": 0}, "close_price"),
        (m.TodayPriceRow, {"previousDayClosePrice": 0.0}, "previous_day_close_price"),
        (m.TradeStat, {"closePrice": 0}, "close_price"),
        (m.TopMover, {"cp": 0}, "cp"),
        (m.LiveMarketRow, {"previousClose": 0.0}, "previous_close"),
        (m.SecurityDailyTrade, {"closePrice": 0}, "close_price"),
    ],
)
def test_a_zero_the_site_sends_for_none_yet_reads_as_none(model: Any, payload: dict[str, Any], field: str) -> None:
    base = {"businessDate": "2026-04-02", "securityId": 131, "symbol": "NABIL"}
    assert getattr(model.model_validate({**base, **payload}), field) is None
    assert getattr(model.model_validate({**base, **{k: 512.5 for k in payload}}), field) == 512.5


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("market_open", {"isOpen": "OPEN", "asOf": "yesterday", "id": 80}),
        ("market_open", []),
        ("market_summary", {"detail": "x", "value": 1}),
        ("floorsheet", {"floorsheets": []}),
        ("index_intraday_graph", [[1, 2, 3]]),
        ("security_list", None),
    ],
)
def test_shape_mismatch_is_an_invalid_response(name: str, payload: object) -> None:
    with pytest.raises(NepseInvalidResponseError) as info:
        CATALOGUE[name].parse(payload)
    assert info.value.endpoint == name
    assert info.value.retryable
    assert info.value.__context__ is None and info.value.__cause__ is None  # pydantic's error holds the values


def test_only_object_endpoints_reject_an_empty_list() -> None:
    for name, endpoint in CATALOGUE.items():
        assert endpoint.rejects_as_empty_list == (not isinstance(SAMPLES[name], list)), name


def test_catalogue_methods_route_every_endpoint() -> None:
    class Recorder(CatalogueMethods):
        def _request(self, name: str, params: dict[str, Any]) -> str:
            prepare(name, params)  # what each method passes must be acceptable to the catalogue
            return name

    required: dict[str, dict[str, Any]] = {
        "index_intraday_graph": {"index_id": 58},
        "index_history": {"index_id": 58},
        "stock_intraday_graph": {"security_id": 131},
        "market_depth": {"security_id": 131},
        "security_price_history": {"security_id": 131},
        "daily_price_graph": {"security_id": 131},
        "security_detail": {"security_id": 131},
        "security_floorsheet": {"security_id": 131, "business_date": "2025-10-30"},
    }
    recorder = Recorder()
    assert [getattr(recorder, name)(**required.get(name, {})) for name in CATALOGUE] == list(CATALOGUE)
