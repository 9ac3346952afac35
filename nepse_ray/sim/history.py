"""The simulator's history endpoints: what the site keeps of past sessions, for about the last year only.

As on the site, every history answers for the year before the business day
(:func:`~nepse_ray.sim.market.history_window_start`) whatever ``startDate`` asks, newest first, and holds a
session's row only once the session has closed:

* ``market/history/security/{id}`` and ``market/security/price/{id}``: a security's days, ``startDate`` and
  ``endDate`` narrowing the window (pages of at most 2,000 rows, see :mod:`~nepse_ray.sim.routes`);
* ``index/history/{id}``: an index's days; the site ignores ``startDate``/``endDate`` here (captured 2025-12-04:
  asked 2020-2024, answered the last year), unless ``honour_index_dates`` asks the simulator to apply them;
* ``market-summary-history`` and ``nepse-data/marcapbydate/``: the market's turnover and capitalisation per day;
* ``market/graphdata/{id}`` (GET and POST): a security's daily OHLC, oldest first.

A security listed on the business day has no earlier session: its first row shows ``0`` as the previous close.

>>> import datetime as dt
>>> from .market import build_market
>>> history = HistoryBodies(build_market(seed=1, trades=1000, business_date=dt.date(2025, 10, 30), market_open=False))
>>> import json
>>> rows = json.loads(history.market_summary_history())
>>> rows[0]["businessDate"], rows[-1]["businessDate"] >= "2024-10-30"
('2025-10-30', True)
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

from .market import INDICES, DailyBar, IndexDay, Market, Security, history_window_start
from .wire import EncodedBodies, Json, encode, spring_page

#: Shares of the whole market's capitalisation held by floating shares and by the sensitive index's members.
FLOAT_SHARE = 0.41
SENSITIVE_SHARE = 0.34
SENSITIVE_FLOAT_SHARE = 0.12
_MARKET_INDEX = 58


class HistoryBodies(EncodedBodies):
    """The history endpoints of one market."""

    def __init__(self, market: Market) -> None:
        super().__init__()
        self.market = market
        self.oldest = history_window_start(market.business_date)

    def _in_window(self, day: dt.date, start: dt.date | None = None, end: dt.date | None = None) -> bool:
        return day >= max(self.oldest, start or self.oldest) and (end is None or day <= end)

    def _closed(self, day: dt.date) -> bool:
        """Whether the session of ``day`` has closed: every day but the business day while it is in session."""
        return not (self.market.market_open and day == self.market.business_date)

    # -- one security ---------------------------------------------------------------------------------------

    def bars(self, security: Security) -> list[DailyBar]:
        """The security's closed sessions, oldest first: its history, then the business day when it traded."""
        bars = list(self.market.history(security))
        stats = self.market.day_stats.get(security.id)
        if stats is not None and self._closed(self.market.business_date):
            bars.append(
                DailyBar(
                    self.market.business_date,
                    stats.open,
                    stats.high,
                    stats.low,
                    stats.close,
                    stats.previous_close_or_zero,
                    stats.quantity,
                    stats.turnover,
                    stats.trades,
                )
            )
        return bars

    def _security_page(
        self,
        security_id: int,
        row: Callable[[Security, DailyBar], Json],
        start: dt.date | None,
        end: dt.date | None,
        page: int,
        size: int,
    ) -> bytes | None:
        security = self.market.security_by_id.get(security_id)
        if security is None:
            return None
        bars = [b for b in reversed(self.bars(security)) if self._in_window(b.business_date, start, end)]
        return encode(spring_page([row(security, b) for b in bars], page=page, size=size, sort=False))

    def security_price_history(
        self, security_id: int, start: dt.date | None, end: dt.date | None, page: int, size: int
    ) -> bytes | None:
        """``market/history/security/{id}``: the seven columns of the Stock Trading page."""
        return self._security_page(security_id, _trading_row, start, end, page, size)

    def security_price(
        self, security_id: int, start: dt.date | None, end: dt.date | None, page: int, size: int
    ) -> bytes | None:
        """``market/security/price/{id}``: the Price History tab, the same days with the open, the previous close,
        the 52-week range and the average price too."""
        return self._security_page(security_id, _price_row, start, end, page, size)

    def daily_price_graph(self, security_id: int) -> bytes | None:
        security = self.market.security_by_id.get(security_id)
        if security is None:
            return None
        return encode(
            [
                {
                    "businessDate": b.business_date.isoformat(),
                    "openPrice": b.open,
                    "highPrice": b.high,
                    "lowPrice": b.low,
                    "previousDayClosePrice": b.previous_close,
                    "fiftyTwoWeekHigh": security.year_high,
                    "lastTradedPrice": b.close,
                    "totalTradedQuantity": b.quantity,
                    "closePrice": b.close,
                }
                for b in self.bars(security)
                if self._in_window(b.business_date)
            ]
        )

    # -- indices and the market -----------------------------------------------------------------------------

    def index_days(self, index_id: int) -> list[IndexDay]:
        """An index's closed sessions in the window, newest first."""
        days = [*self.market.index_history(index_id), self.market.index_today(index_id)]
        return [d for d in reversed(days) if self._in_window(d.business_date) and self._closed(d.business_date)]

    def index_history(
        self, index_id: int, start: dt.date | None, end: dt.date | None, page: int, size: int
    ) -> bytes | None:
        """``index/history/{id}``; ``start`` and ``end`` are None unless the simulator honours them."""
        if index_id not in INDICES:
            return None
        days = [d for d in self.index_days(index_id) if self._in_window(d.business_date, start, end)]
        high = max(d.high for d in days) if days else None
        low = min(d.low for d in days) if days else None
        rows = [
            {
                "id": None,
                "businessDate": d.business_date.isoformat(),
                "exchangeIndexId": index_id,
                "closingIndex": d.close,
                "openIndex": d.open,
                "highIndex": d.high,
                "lowIndex": d.low,
                "fiftyTwoWeekHigh": high,
                "fiftyTwoWeekLow": low,
                "turnoverValue": d.turnover,
                "turnoverVolume": d.volume,
                "totalTransaction": d.transactions,
                "absChange": round(d.close - d.previous_close, 2),
                "percentageChange": round(100 * (d.close - d.previous_close) / d.previous_close, 2),
            }
            for d in days
        ]
        return encode(spring_page(rows, page=page, size=size, sort=False))

    def market_summary_history(self) -> bytes:
        """The market's turnover, traded shares, transactions and traded scrips per closed session."""

        def build() -> Json:
            rng = random.Random(f"nepse-sim:{self.market.seed}:traded-scrips")
            traded_today = len(self.market.day_stats)
            return [
                {
                    "businessDate": d.business_date.isoformat(),
                    "totalTurnover": d.turnover,
                    "totalTradedShares": d.volume,
                    "totalTransactions": float(d.transactions),
                    "tradedScrips": (
                        traded_today if d.business_date == self.market.business_date else rng.randint(240, 340)
                    ),
                }
                for d in self.index_days(_MARKET_INDEX)
            ]

        return self._cached("market_summary_history", build)

    def market_cap_history(self, day: dt.date | None) -> bytes:
        """``nepse-data/marcapbydate/``: capitalisation in millions of Rs per session, following the NEPSE index;
        ``day`` picks one session (none: every session of the window, newest first)."""
        today = self.market.index_today(_MARKET_INDEX).close
        cap = self.market.capitalization() / 1e6
        rows = [
            {
                "businessDate": d.business_date.isoformat(),
                "marCap": round(cap * d.close / today, 2),
                "senMarCap": round(cap * SENSITIVE_SHARE * d.close / today, 2),
                "floatMarCap": round(cap * FLOAT_SHARE * d.close / today, 2),
                "senFloatMarCap": round(cap * SENSITIVE_FLOAT_SHARE * d.close / today, 2),
            }
            for d in self.index_days(_MARKET_INDEX)
            if day is None or d.business_date == day
        ]
        return encode(rows)


def _trading_row(security: Security, b: DailyBar) -> Json:
    return {
        "businessDate": b.business_date.isoformat(),
        "totalTrades": b.trades,
        "totalTradedQuantity": b.quantity,
        "totalTradedValue": b.turnover,
        "highPrice": b.high,
        "lowPrice": b.low,
        "closePrice": b.close,
    }


def _price_row(security: Security, b: DailyBar) -> Json:
    first_day = b.previous_close == 0
    return {
        "id": None,
        **_trading_row(security, b),
        "openPrice": b.open,
        "previousDayClosePrice": b.previous_close,
        "fiftyTwoWeekHigh": 0.0 if first_day else security.year_high,
        "fiftyTwoWeekLow": 0.0 if first_day else security.year_low,
        "lastUpdatedTime": f"{b.business_date.isoformat()}T14:59:59.999",
        "lastTradedPrice": b.close,
        "averageTradedPrice": round(b.turnover / b.quantity, 2),
    }
