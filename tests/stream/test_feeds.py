"""The streamable feeds: each cuts its endpoint's answer into keyed rows and types them as Arrow; keys and
arguments are checked before anything is sent."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from nepse_fakes import SAMPLES

from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.stream import FEEDS, Tick, feed_key

AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=NEPAL_TZ)


@pytest.mark.parametrize("name", list(FEEDS))
def test_every_feed_reads_its_endpoints_sample_into_keyed_rows_and_a_typed_table(name: str) -> None:
    feed = FEEDS[name]
    rows = feed.rows(SAMPLES[feed.endpoint])

    assert rows and len({feed.key(row) for row in rows}) >= 1
    table = Tick(name, None, 1, AT, tuple(rows), snapshot=True).to_arrow()
    assert table.num_rows == len(rows)
    assert not any(pa.types.is_null(field.type) for field in table.schema)  # every column typed, none guessed


def test_live_market_rows_keep_the_sites_fields_and_convert_its_times_and_string_ids() -> None:
    rows = FEEDS["live_market"].rows(SAMPLES["live_market"])
    table = Tick("live_market", None, 1, AT, tuple(rows)).to_arrow()

    assert FEEDS["live_market"].key(rows[0]) == 2790  # "2790" on the wire
    assert table.column("security_id").to_pylist() == [2790]
    updated = table.column("last_updated_date_time")[0].as_py()
    assert updated.isoformat() == "2026-04-02T12:22:33.837549+05:45"


def test_market_depth_is_a_row_per_side_and_level_and_index_points_are_zoned_times() -> None:
    depth = Tick("market_depth", 131, 1, AT, tuple(FEEDS["market_depth"].rows(SAMPLES["market_depth"])))
    points = FEEDS["index_intraday"].rows(SAMPLES["index_intraday_graph"])

    assert depth.to_pandas().to_dict("records") == [
        {"side": "buy", "level": 1, "price": 500.0, "quantity": 10, "orders": 1}
    ]
    assert [FEEDS["index_intraday"].key(row) for row in points] == [1743571800, 1743571800, 1743571860]
    times = Tick("index_intraday", 58, 1, AT, tuple(points)).to_arrow().column("time").to_pylist()
    assert times[0] == dt.datetime(2025, 4, 2, 11, 15, tzinfo=NEPAL_TZ)


def test_a_feed_key_names_one_poll() -> None:
    assert feed_key("market_depth", 2, security_id=131).request() == ("market_depth", {"security_id": 131})
    assert feed_key("index_intraday", 5).request() == ("index_intraday_graph", {"index_id": 58})
    assert feed_key("live_market", 5) == feed_key("live_market", 5.0)  # one feed, shared
    assert str(feed_key("index_intraday", 5, index_id=51)) == "index_intraday(51) every 5 s"


@pytest.mark.parametrize(
    ("name", "interval", "targets", "problem"),
    [
        ("floorsheet", 5, {}, "no stream 'floorsheet'"),
        ("live_market", 0.2, {}, "at least 1 s"),
        ("live_market", float("nan"), {}, "number of seconds"),
        ("market_depth", 5, {}, "needs security_id="),
        ("live_market", 5, {"security_id": 1}, "takes no security_id"),
        ("market_depth", 5, {"security_id": -1}, "non-negative int"),
    ],
)
def test_a_feed_no_poll_can_serve_is_refused_before_anything_is_sent(
    name: str, interval: float, targets: dict[str, int], problem: str
) -> None:
    with pytest.raises(NepseInputError, match=problem):
        feed_key(name, interval, **targets)
