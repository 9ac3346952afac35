"""What can be streamed: one table of feeds, each a catalogue endpoint polled, how its answer becomes rows, what
identifies a row, and the rows' Arrow schema.

A feed's answer is cut into rows (the site's JSON objects for the list endpoints, a row per order-book level or per
index point for the others) and each row has a key, so two polls can be compared row by row (:mod:`.diff`). A
:class:`FeedKey` names one feed a subscriber wants: the feed, its security or index when it takes one, and the
interval; every subscriber asking for the same key shares one poll.

>>> key = feed_key("market_depth", 5.0, security_id=131)
>>> key.request()
('market_depth', {'security_id': 131})
>>> depth = {"marketDepth": {"buyMarketDepthList": [{"orderBookOrderPrice": 511.0, "quantity": 40}],
...                          "sellMarketDepthList": []}}
>>> rows = FEEDS["market_depth"].rows(depth)
>>> rows, FEEDS["market_depth"].key(rows[0])
([{'side': 'buy', 'level': 1, 'price': 511.0, 'quantity': 40, 'orders': None}], ('buy', 1))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pyarrow as pa

from ..nepse import models, tables
from ..nepse.errors import NepseInputError, NepseInvalidResponseError

#: One row of a feed: the site's JSON object, or the row a feed builds (see each feed).
Row = dict[str, Any]
#: The shortest interval a feed may be polled at (the site allows a token about two requests a second).
MIN_INTERVAL = 1.0
#: The index a bare ``index_intraday`` stream follows: the NEPSE index.
NEPSE_INDEX_ID = 58


@dataclasses.dataclass(frozen=True)
class Feed:
    """One streamable feed: the catalogue ``endpoint`` it polls and ``target``, the argument it takes (if any)."""

    name: str
    endpoint: str
    rows: Callable[[Any], list[Row]]
    """The rows of a decoded answer."""
    key: Callable[[Row], Hashable]
    """What identifies a row from one poll to the next."""
    schema: Callable[[list[Row]], pa.Table]
    """The rows as an Arrow table with typed columns."""
    target: str | None = None
    default: int | None = None
    doc: str = ""


def _listed(endpoint: str) -> Callable[[list[Row]], pa.Table]:
    """Rows of a list endpoint as its row model's table (:func:`nepse_ray.nepse.tables.rows_batch`)."""
    return lambda rows: pa.Table.from_batches([tables.rows_batch(endpoint, rows)])


def _rows_of_list(answer: Any) -> list[Row]:
    if not isinstance(answer, list) or not all(isinstance(row, dict) for row in answer):
        raise NepseInvalidResponseError("a stream's answer is not a list of JSON objects")
    return answer


def _depth_rows(answer: Any) -> list[Row]:
    book = models.MarketDepth.model_validate(answer).market_depth
    return [
        {"side": side, "level": level, "price": order.order_book_order_price, "quantity": order.quantity,
         "orders": order.order_count}
        for side, orders in (("buy", book.buy_market_depth_list), ("sell", book.sell_market_depth_list))
        for level, order in enumerate(orders, start=1)
    ]  # fmt: skip


_DEPTH_SCHEMA = pa.schema(
    [("side", pa.string()), ("level", pa.int64()), ("price", pa.float64()), ("quantity", pa.int64()),
     ("orders", pa.int64())]
)  # fmt: skip


def _points(answer: Any) -> list[Row]:
    if not isinstance(answer, list):
        raise NepseInvalidResponseError("the index graph is not a list of points", endpoint="index_intraday_graph")
    return [{"time": int(time), "value": float(value)} for time, value in answer]


_POINT_SCHEMA = pa.schema([("time", pa.timestamp("s", tz=tables.NEPAL_TZ)), ("value", pa.float64())])


def _typed(schema: pa.Schema) -> Callable[[list[Row]], pa.Table]:
    return lambda rows: pa.Table.from_pylist(rows, schema=schema)


FEEDS: Mapping[str, Feed] = {
    feed.name: feed
    for feed in (
        Feed("live_market", "live_market", _rows_of_list, lambda row: int(row["securityId"]), _listed("live_market"),
             doc="The live market table: one row per security traded today."),
        Feed("nepse_index", "nepse_index", _rows_of_list, lambda row: int(row["id"]), _listed("nepse_index"),
             doc="The NEPSE, Sensitive, Float and Sensitive Float indices."),
        Feed("sub_indices", "sub_indices", _rows_of_list, lambda row: int(row["id"]), _listed("sub_indices"),
             doc="The 13 sector sub-indices."),
        Feed("market_depth", "market_depth", _depth_rows, lambda row: (row["side"], row["level"]),
             _typed(_DEPTH_SCHEMA), target="security_id",
             doc="One security's order book: a row per side and level (1 is the best price)."),
        Feed("index_intraday", "index_intraday_graph", _points, lambda row: row["time"], _typed(_POINT_SCHEMA),
             target="index_id", default=NEPSE_INDEX_ID,
             doc="Today's points of one index (the NEPSE index by default): a row per point."),
    )
}  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class FeedKey:
    """One feed as subscribers ask for it: every subscriber of the same key shares one poll per ``interval``."""

    name: str
    target: int | None
    interval: float

    @property
    def feed(self) -> Feed:
        return FEEDS[self.name]

    def request(self) -> tuple[str, dict[str, int]]:
        """The catalogue endpoint and arguments one poll sends."""
        feed = self.feed
        params = {feed.target: self.target} if feed.target is not None and self.target is not None else {}
        return feed.endpoint, params

    def __str__(self) -> str:
        target = f"({self.target})" if self.target is not None else ""
        return f"{self.name}{target} every {self.interval:g} s"


def feed_key(name: str, interval: float, *, security_id: int | None = None, index_id: int | None = None) -> FeedKey:
    """The key of feed ``name`` at ``interval`` seconds; :class:`NepseInputError` for anything a poll cannot serve."""
    feed = FEEDS.get(name)
    if feed is None:
        raise NepseInputError(f"no stream {name!r}; streams: {', '.join(FEEDS)}")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not math.isfinite(interval):
        raise NepseInputError(f"interval must be a number of seconds, got {interval!r}")
    if interval < MIN_INTERVAL:
        raise NepseInputError(f"interval must be at least {MIN_INTERVAL:g} s (the site's pace), got {interval:g}")
    given = {"security_id": security_id, "index_id": index_id}
    extra = sorted(arg for arg, value in given.items() if value is not None and arg != feed.target)
    if extra:
        raise NepseInputError(f"the {name} stream takes no {', '.join(extra)}")
    target = given[feed.target] if feed.target is not None else None
    if feed.target is not None and target is None:
        target = feed.default
        if target is None:
            raise NepseInputError(f"the {name} stream needs {feed.target}=")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int) or target < 0):
        raise NepseInputError(f"{feed.target} must be a non-negative int, got {target!r}")
    return FeedKey(name, target, float(interval))
