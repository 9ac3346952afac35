"""The live day: the business day as it stands after its first ``n`` trades, for a simulator whose trades arrive while
it runs (``live_trades_per_s``).

The live market table (prices, volumes, turnover of each security traded so far), the indices and each index's
intraday points are all derived from the trades visible at that moment, so a stream polling them reports exactly
what the floorsheet holds: a security's row changes when one of its trades arrives, and nothing else changes it.
Each index is capitalisation-weighted: its previous close times the ratio of its securities' value now (each at its
last traded price, the previous close if it has not traded) to their value at the previous close. The NEPSE,
Sensitive, Float and Sensitive Float indices take every listed security of a sector, each sub-index its sector's.
An index's intraday points are its value at every 30 seconds of trading time that has passed.

:class:`LiveDay` moves forward trade by trade (a poll costs the trades that arrived since the last one) and keeps
each body for its ``n``. :meth:`LiveDay.truth` is the ground truth ``/_sim/stats`` reports.

>>> from nepse_ray.sim.market import build_market
>>> market = build_market(seed=1, trades=100, business_date=dt.date(2025, 10, 30), market_open=True, live=50)
>>> day = LiveDay(market)
>>> day.advance(100)
>>> before = day.index_value(58)
>>> day.advance(150)
>>> day.truth()["trades"], day.index_value(58) != before
(150, True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from .market import INDICES, MAIN_INDEX_IDS, SUB_INDEX_IDS, DayStats, Market
from .responses import SUB_INDEX_FIELDS, index_row, live_market_rows
from .wire import Json, encode

#: Seconds of trading time between two intraday points of an index (as the site's graph).
POINT_EVERY = 30


@dataclasses.dataclass(slots=True)
class _Security:
    """One security's day so far: open, high, low, last price, quantity, turnover, trades, index of its last trade."""

    open: float
    high: float
    low: float
    close: float
    quantity: int = 0
    turnover: float = 0.0
    trades: int = 0
    last: int = 0


@dataclasses.dataclass(slots=True)
class _Index:
    previous: float
    base: float
    """The value of its securities at their previous close."""
    value: float
    """Their value now."""
    high: float
    low: float
    points: list[tuple[int, float]] = dataclasses.field(default_factory=list)

    @property
    def level(self) -> float:
        return round(self.previous * self.value / self.base, 2)


class LiveDay:
    """The business day of ``market`` after its first ``trades`` trades (see the module docstring)."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.trades = 0
        self._securities: dict[int, _Security] = {}
        shares: dict[int, list[tuple[int, float]]] = {index_id: [] for index_id in INDICES}
        for security in market.securities:
            if security.active_status == "A" and security.sector is not None:
                for index_id in (*MAIN_INDEX_IDS, security.sector.index_id):
                    shares[index_id].append((security.id, security.listed_shares * security.previous_close))
        self._members: dict[int, tuple[int, ...]] = {}
        self._indices: dict[int, _Index] = {}
        for index_id, held in shares.items():
            base = sum(value for _, value in held) or 1.0
            previous = round(market.index_levels[index_id], 2)
            self._indices[index_id] = _Index(previous, base, base, previous, previous)
            for security_id, _ in held:
                self._members[security_id] = (*self._members.get(security_id, ()), index_id)
        self._next_point = int(market.session_start.timestamp())
        self._bodies: dict[object, tuple[int, bytes]] = {}

    def advance(self, trades: int) -> None:
        """Take in the trades up to the first ``trades`` (never backwards)."""
        t, market = self.market.trades, self.market
        start = int(market.session_start.timestamp())
        for i in range(self.trades, min(trades, len(t))):
            moment = start + t.micros[i] // 1_000_000
            while self._next_point <= moment:
                for index in self._indices.values():
                    index.points.append((self._next_point, index.level))
                self._next_point += POINT_EVERY
            self._trade(i)
        self.trades = max(self.trades, min(trades, len(t)))

    def _trade(self, i: int) -> None:
        t = self.market.trades
        sid, rate, quantity = t.security[i], t.rate[i], t.quantity[i]
        day = self._securities.get(sid)
        if day is None:
            day = self._securities[sid] = _Security(rate, rate, rate, self.market.security_by_id[sid].previous_close)
        else:
            day.high, day.low = max(day.high, rate), min(day.low, rate)
        security = self.market.security_by_id[sid]
        moved = (rate - day.close) * security.listed_shares
        day.close, day.quantity, day.turnover, day.trades, day.last = (
            rate,
            day.quantity + quantity,
            day.turnover + quantity * rate,
            day.trades + 1,
            i,
        )
        for index_id in self._members.get(sid, ()):
            index = self._indices[index_id]
            index.value += moved
            level = index.level
            index.high, index.low = max(index.high, level), min(index.low, level)

    # -- what a live simulator serves ------------------------------------------------------------------------

    def stats(self) -> list[DayStats]:
        """Each security traded so far, as the static market's ``day_stats``, by security id."""
        return [
            DayStats(self.market.security_by_id[sid], d.open, d.high, d.low, d.close, d.quantity,
                     round(d.turnover, 2), d.trades, d.last,
                     None if sid in self.market.new_listings else self.market.security_by_id[sid].previous_close)
            for sid, d in sorted(self._securities.items())
        ]  # fmt: skip

    def index_value(self, index_id: int) -> float:
        return self._indices[index_id].level

    def live_market(self) -> bytes:
        return self._body("live_market", lambda: live_market_rows(self.market, self.stats()))

    def nepse_index(self) -> bytes:
        return self._body("nepse_index", lambda: [self._index_row(i) for i in MAIN_INDEX_IDS])

    def sub_indices(self) -> bytes:
        return self._body(
            "sub_indices", lambda: [{k: self._index_row(i)[k] for k in SUB_INDEX_FIELDS} for i in SUB_INDEX_IDS]
        )

    def index_intraday_graph(self, index_id: int) -> bytes | None:
        if index_id not in INDICES:
            return None
        return self._body(("points", index_id), lambda: [list(point) for point in self._indices[index_id].points])

    def truth(self) -> dict[str, Json]:
        """The ground truth of the live day now: trades, securities traded, turnover and the NEPSE index."""
        return {
            "trades": self.trades,
            "securities_traded": len(self._securities),
            "turnover": round(sum(d.turnover for d in self._securities.values()), 2),
            "nepse_index": self.index_value(58),
        }

    def _index_row(self, index_id: int) -> dict[str, Json]:
        index, as_of = self._indices[index_id], self._as_of()
        return index_row(index_id, index.previous, index.high, index.low, index.level, as_of, self.market.market_open)

    def _as_of(self) -> dt.datetime:
        """The time of the last trade taken in (the session's start before any)."""
        if not self.trades:
            return self.market.session_start
        return self.market.trade_time(self.trades - 1)

    def _body(self, key: object, build: Callable[[], Json]) -> bytes:
        kept = self._bodies.get(key)
        if kept is None or kept[0] != self.trades:
            kept = self._bodies[key] = (self.trades, encode(build()))
        return kept[1]
