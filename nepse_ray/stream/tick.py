"""What a stream hands its subscriber: :class:`Tick` (the rows one poll changed, or the full snapshot), and what
the coordinator answers a subscriber's fetch with (:class:`Delivery`: ticks and the market's state).

>>> import datetime as dt
>>> at = dt.datetime(2026, 11, 30, 12, 0, 5, tzinfo=NEPAL_TZ)
>>> tick = Tick("nepse_index", None, 7, at, ({"id": 58, "index": "NEPSE Index", "close": 2712.5},))
>>> tick
Tick(nepse_index #7 at 12:00:05: 1 changed row)
>>> tick.to_arrow().column("close").to_pylist()
[2712.5]
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Hashable
from typing import TYPE_CHECKING, NamedTuple

import pyarrow as pa

from ..nepse.payload import NEPAL_TZ
from .feeds import FEEDS, Row

if TYPE_CHECKING:
    import pandas as pd


class Cursor(NamedTuple):
    """Where a subscriber is in a feed's log: the log's generation and the ``seq`` of the last tick received."""

    generation: int
    seq: int


@dataclasses.dataclass(frozen=True, slots=True)
class Tick:
    """One poll of a feed as a subscriber sees it.

    ``rows`` are the rows that changed since the feed's previous tick (new or with a value that differs), in the
    site's order and form (the JSON objects of ``live_market``, ``nepse_index`` and ``sub_indices``; for
    ``market_depth`` a row per side and level, for ``index_intraday`` a row per point); ``removed`` the keys of rows
    that are gone. A ``snapshot`` tick holds every row of the feed instead: the first tick of a subscription, and a
    ``resync``, sent instead of the ticks a subscriber missed when it fell behind the coordinator's ring (or when
    the coordinator restarted). ``seq`` numbers the feed's ticks; ``at`` is when the poll was answered (Nepal time).
    """

    feed: str
    target: int | None
    seq: int
    at: dt.datetime
    rows: tuple[Row, ...]
    removed: tuple[Hashable, ...] = ()
    snapshot: bool = False
    resync: bool = False

    def __len__(self) -> int:
        return len(self.rows)

    def to_arrow(self) -> pa.Table:
        """The rows as an Arrow table with typed columns (Python names, times in Nepal time)."""
        return FEEDS[self.feed].schema(list(self.rows))

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a pandas DataFrame (through :meth:`to_arrow`)."""
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def __repr__(self) -> str:
        what = "snapshot of" if self.snapshot else "changed"
        resync = ", resync" if self.resync else ""
        removed = f", {len(self.removed)} removed" if self.removed else ""
        target = f"({self.target})" if self.target is not None else ""
        rows = f"{len(self.rows)} {what} row{'s' if len(self.rows) != 1 else ''}"
        return (
            f"Tick({self.feed}{target} #{self.seq} at {self.at.astimezone(NEPAL_TZ):%H:%M:%S}: {rows}{removed}{resync})"
        )


@dataclasses.dataclass(frozen=True, slots=True)
class MarketState:
    """What the coordinator last learned of the market: ``open`` per the site's market-open answer (None before the
    first answer), and while closed, ``opens_at``: when it will ask the site again (the next session's start)."""

    open: bool | None
    opens_at: dt.datetime | None = None
    error: str | None = None
    """Why the last market-open request failed, if it did (it is asked again)."""

    def describe(self) -> str:
        if self.open:
            return "the market is open"
        if self.open is None:
            return "waiting for the site's market-open answer" + (f" ({self.error})" if self.error else "")
        when = f"; it opens at {self.opens_at.astimezone(NEPAL_TZ):%Y-%m-%d %H:%M} Nepal time" if self.opens_at else ""
        return f"the market is closed{when}"


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """The coordinator's answer to one fetch: the ticks after the subscriber's cursor and its cursor after them, the
    market's state, the feed's ``polls`` so far (one per interval however many subscribers share it), and why the
    last poll failed, if it did (the feed is polled again at its next interval)."""

    ticks: tuple[Tick, ...]
    cursor: Cursor | None
    market: MarketState
    polls: int = 0
    error: str | None = None

    def __repr__(self) -> str:
        return f"Delivery({len(self.ticks)} tick(s), {self.market.describe()}, {self.polls} poll(s))"
