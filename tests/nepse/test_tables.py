"""Pages as Arrow: the one-pass reader (``read_page``) and the tolerant converter (``page_batch``) agree.

``read_page`` reads the body bytes in Arrow's JSON reader; it answers ``None`` for any body it cannot take as it
is, and ``page_batch`` (on the decoded JSON) then converts or names the problem. These tests hold the two to the
same batch for every paged endpoint's representative body, and show that every odd body goes the tolerant way.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pytest
from nepse_fakes import FLOOR_ROW, SAMPLES, json_response

from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.errors import NepseInvalidResponseError
from nepse_ray.nepse.tables import PageBatch, page_batch, read_page, schema
from nepse_ray.pool.wire import packer

PAGED = sorted(name for name, endpoint in CATALOGUE.items() if endpoint.paged)
NEPAL = dt.timezone(dt.timedelta(hours=5, minutes=45))


def body(payload: object) -> bytes:
    return json.dumps(payload).encode()


def floorsheet(**row: Any) -> dict[str, Any]:
    """The sample floorsheet page with its one row changed by ``row`` (``None`` values included)."""
    payload: dict[str, Any] = copy.deepcopy(SAMPLES["floorsheet"])
    payload["floorsheets"]["content"][0].update(row)
    return payload


def same(a: PageBatch, b: PageBatch) -> bool:
    return (a.endpoint, a.number, a.total_pages, a.total_elements, dict(a.extras)) == (
        b.endpoint,
        b.number,
        b.total_pages,
        b.total_elements,
        dict(b.extras),
    ) and a.rows.equals(b.rows)


@pytest.mark.parametrize("endpoint", PAGED)
def test_the_one_pass_reader_gives_the_tolerant_converters_batch(endpoint: str) -> None:
    payload = SAMPLES[endpoint]
    fast = read_page(endpoint, body(payload))
    assert fast is not None, "a representative body must take the one-pass way"
    assert fast.rows.schema.equals(schema(endpoint)) and fast.rows.num_rows == len(
        (payload.get("floorsheets") or payload)["content"]
    )
    assert same(fast, page_batch(endpoint, payload))


def test_a_compact_body_as_the_site_sends_it_reads_the_same() -> None:
    compact = json.dumps(SAMPLES["floorsheet"], separators=(",", ":")).encode()
    fast = read_page("floorsheet", compact)
    assert fast is not None and same(fast, page_batch("floorsheet", SAMPLES["floorsheet"]))


def test_values_keep_their_meaning() -> None:
    batch = read_page("floorsheet", body(SAMPLES["floorsheet"]))
    assert batch is not None
    row = batch.rows.to_pylist()[0]
    assert row["contract_id"] == FLOOR_ROW["contractId"] and row["buyer_member_id"] is None
    assert row["business_date"] == dt.date(2025, 10, 30)
    assert row["trade_time"] == dt.datetime(2025, 10, 30, 14, 59, 59, 956739, tzinfo=NEPAL)
    assert pa.types.is_dictionary(batch.rows.schema.field("stock_symbol").type)
    assert dict(batch.extras) == {"totalAmount": 1e9, "totalQty": 5e6, "totalTrades": 53112}
    assert isinstance(batch.extras["totalTrades"], int) and isinstance(batch.extras["totalQty"], float)


def test_a_zero_the_site_sends_for_none_yet_is_null_both_ways() -> None:
    """While the market is open the day's close is 0 or null; a security listed today has a previous close of 0."""
    rows = [
        {
            "businessDate": "2026-04-02",
            "securityId": 131,
            "symbol": "NABIL",
            "closePrice": 0,
            "previousDayClosePrice": 523,
        },
        {
            "businessDate": "2026-04-02",
            "securityId": 9293,
            "symbol": "DHEL",
            "closePrice": None,
            "previousDayClosePrice": 0.0,
        },
    ]
    page = {"content": rows, "totalElements": 2, "totalPages": 1, "number": 0}
    fast, tolerant = read_page("today_price", body(page)), page_batch("today_price", page)
    assert fast is not None and same(fast, tolerant)
    assert fast.rows.column("close_price").to_pylist() == [None, None]
    assert fast.rows.column("previous_day_close_price").to_pylist() == [523.0, None]
    assert fast.rows.column("total_traded_quantity").null_count == 2  # absent, not zero


def test_columns_say_what_they_hold() -> None:
    fields = schema("today_price")
    assert b"open" in (fields.field("close_price").metadata or {})[b"description"]
    assert fields.field("business_date").metadata is None


@pytest.mark.parametrize(
    "odd",
    [
        pytest.param(floorsheet(contractQuantity="200", stockId="8126"), id="numbers-sent-as-strings"),
        pytest.param(floorsheet(contractQuantity=200.0), id="an-integer-sent-as-a-float"),
        pytest.param(floorsheet(contractRate="659.5"), id="a-price-sent-as-a-string"),
    ],
)
def test_bodies_the_reader_refuses_are_converted_the_tolerant_way(odd: dict[str, Any]) -> None:
    assert read_page("floorsheet", body(odd)) is None
    batch = page_batch("floorsheet", odd)
    assert batch.rows.num_rows == 1 and batch.rows.schema.equals(schema("floorsheet"))


def test_a_body_spread_over_lines_reads_the_same() -> None:
    pretty = json.dumps(SAMPLES["floorsheet"], indent=2).encode()
    fast = read_page("floorsheet", pretty)
    assert fast is not None and same(fast, page_batch("floorsheet", SAMPLES["floorsheet"]))


def test_the_worker_packs_a_refused_body_through_the_tolerant_converter() -> None:
    odd = floorsheet(contractQuantity="200")
    batch = packer("arrow")(CATALOGUE["floorsheet"], json_response(odd)).materialise()
    assert isinstance(batch, PageBatch) and batch.rows.column("contract_quantity").to_pylist() == [200]


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        pytest.param({"floorsheets": {"content": None, "totalPages": 1, "totalElements": 1}}, "no content list",
                     id="null-content"),
        pytest.param({"floorsheets": None}, "no content list", id="null-page"),
        pytest.param({"floorsheets": {"content": [None], "totalPages": 1, "totalElements": 1}}, "not a JSON object",
                     id="a-null-row"),
        pytest.param({"floorsheets": {"content": [FLOOR_ROW], "totalPages": 1}}, "lacks totalElements",
                     id="no-total"),
        pytest.param(floorsheet(contractId=None), "contractId is missing in 1 row", id="a-required-value-missing"),
        pytest.param(floorsheet(tradeTime="at three"), "tradeTime holds a value", id="a-time-that-is-not-one"),
    ],
)  # fmt: skip
def test_a_broken_page_is_refused_by_the_reader_and_named_by_the_converter(
    payload: dict[str, Any], problem: str
) -> None:
    assert read_page("floorsheet", body(payload)) is None
    with pytest.raises(NepseInvalidResponseError, match=problem):
        page_batch("floorsheet", payload)


@pytest.mark.parametrize("raw", [b"", b"<html>maintenance</html>", b"[]", b"{}\n{}", b'{"floorsheets": {'])
def test_what_is_not_one_json_page_is_left_to_the_converter(raw: bytes) -> None:
    assert read_page("floorsheet", raw) is None


def test_a_non_paged_endpoint_is_a_named_input_error() -> None:
    with pytest.raises(Exception, match="not a paged endpoint"):
        read_page("market_open", b"{}")


NO_PANDAS = """
import json, pickle, sys
from nepse_ray.pool import wire
from nepse_ray.nepse.tables import read_page
batch = read_page("floorsheet", sys.stdin.buffer.read())
assert batch is not None and batch.rows.num_rows == 1
pickle.dumps(batch)
print("pandas" in sys.modules)
"""


def test_a_worker_converting_pages_never_imports_pandas() -> None:
    """Converting a Python value to Arrow makes pyarrow import pandas (~0.25 s of CPU in each fresh worker, on its
    first page); the one-pass path converts none."""
    done = subprocess.run(
        [sys.executable, "-c", NO_PANDAS], input=body(SAMPLES["floorsheet"]), capture_output=True, check=True
    )
    assert done.stdout.decode().strip() == "False"
