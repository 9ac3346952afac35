"""The JSON bodies the simulator serves, rendered from a :class:`~nepse_ray.sim.market.Market`.

Field names, types and meanings follow the real site's answers (samples captured 2022-2026) and validate against
:mod:`nepse_ray.nepse.models`; pydantic stays off this path. As on the site: an index's ``close`` is the previous
session's close and ``currentValue`` today's value (``change == currentValue - close``); a top mover's ``cp`` is
its closing price, ``0`` while the market is open; the close of a day in session is null (``0`` in the security
detail); a security listed today shows ``0`` as its previous close; the market summary has 4 items while open and
6 after the close; sub-index elements carry only id, index, change, perChange and currentValue.

Bodies that never change are encoded once; floorsheet pages live in :mod:`~nepse_ray.sim.floorsheet`, the history
endpoints in :mod:`~nepse_ray.sim.history`. Methods return ``None`` for an unknown security or index id (the app
answers 404).
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Callable, Iterable
from typing import Any

from .directory import DirectoryBodies
from .floorsheet import FloorsheetPages
from .history import FLOAT_SHARE, HistoryBodies
from .market import INDICES, MAIN_INDEX_IDS, SUB_INDEX_IDS, DayStats, Market, Security
from .wire import BodyCache, EncodedBodies, Json, encode, spring_page

#: The only fields of a sub-index element (``/api/nots``), as the site sends them.
SUB_INDEX_FIELDS = ("id", "index", "change", "perChange", "currentValue")


class Responses(EncodedBodies):
    """Every endpoint's body for one market. Shared by all servers of that market (see :func:`responses_for`)."""

    def __init__(self, market: Market) -> None:
        super().__init__()
        self.market = market
        self._pages = BodyCache(maxsize=64)
        self.floorsheets = FloorsheetPages(market)
        self.history = HistoryBodies(market)
        self.directory = DirectoryBodies(market)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _traded(self) -> list[DayStats]:
        return list(self.market.day_stats.values())

    def _close(self, stats: DayStats) -> float | None:
        return None if self.market.market_open else stats.close

    @property
    def _as_of(self) -> dt.datetime:
        return self.market.session_end

    def warm(self) -> None:
        """Build, off the event loop, what would otherwise block it on first use (~0.1 s for 100k trades).

        A blocked loop stamps queued requests late, which makes their on-time successors look early to the rate
        limiter. Per-security histories stay lazy (a few ms each).
        """
        self.floorsheets.page(0, 1)
        _ = self.market.trades_by_security, self._today_rows, self._index_values
        for body in (self.market_summary, self.nepse_index, self.sub_indices, self.price_volume, self.live_market):
            body()

    def security(self, security_id: int) -> Security | None:
        return self.market.security_by_id.get(security_id)

    # -- market-wide GETs --------------------------------------------------------------------------------------

    def market_open(self, market_id: int) -> bytes:
        m = self.market
        as_of = self._as_of.replace(tzinfo=None)
        text = as_of.isoformat() if m.market_open else as_of.strftime("%Y-%m-%dT%H:%M:%S")
        return encode({"isOpen": "OPEN" if m.market_open else "CLOSE", "asOf": text, "id": market_id})

    def market_summary(self) -> bytes:
        def build() -> Json:
            traded = self._traded()
            items = [
                {"detail": "Total Turnover Rs:", "value": round(sum(t.turnover for t in traded), 2)},
                {"detail": "Total Traded Shares", "value": float(sum(t.quantity for t in traded))},
                {"detail": "Total Transactions", "value": float(sum(t.trades for t in traded))},
                {"detail": "Total Scrips Traded", "value": float(len(traded))},
            ]
            if self.market.market_open:  # the capitalisation items appear after the close
                return items
            cap = self.market.capitalization()
            return [
                *items,
                {"detail": "Total Market Capitalization Rs:", "value": round(cap, 2)},
                {"detail": "Total Float Market Capitalization Rs:", "value": round(cap * FLOAT_SHARE, 2)},
            ]

        return self._cached("market_summary", build)

    def disclosures(self) -> bytes:
        def build() -> Json:
            rng = random.Random(f"nepse-sim:{self.market.seed}:news")
            day = self.market.business_date.isoformat()
            picks = rng.sample(self.market.companies, 10)
            return {
                "exchangeMessages": [
                    {
                        "id": 900 + k,
                        "messageTitle": f"Notice {k + 1} regarding trading on {day}",
                        "messageBody": "Trading will continue as per the regular schedule.",
                        "addedDate": day,
                        "filePath": None,
                    }
                    for k in range(5)
                ],
                "companyNews": [
                    {
                        "id": 20_000 + k,
                        "symbol": c.symbol,
                        "newsHeadline": f"{c.name} publishes its quarterly report",
                        "newsSource": c.name,
                        "addedDate": day,
                    }
                    for k, c in enumerate(picks)
                ],
            }

        return self._cached("disclosures", build)

    def _top(self, key: str, order: Callable[[DayStats], float], keep: Callable[[DayStats], bool], row: Any) -> bytes:
        def build() -> Json:
            chosen = sorted((s for s in self._traded() if keep(s)), key=order, reverse=True)
            return [{**row(s), "securityName": s.security.name, "securityId": s.security.id} for s in chosen]

        return self._cached(key, build)

    def top_gainers(self) -> bytes:
        return self._top("top_gainers", lambda s: s.percentage_change, lambda s: s.change > 0, self._mover_row)

    def top_losers(self) -> bytes:
        return self._top("top_losers", lambda s: -s.percentage_change, lambda s: s.change < 0, self._mover_row)

    def top_ten_trade(self) -> bytes:
        return self._top(
            "top_trade",
            lambda s: s.quantity,
            lambda s: True,
            lambda s: {"symbol": s.security.symbol, "shareTraded": s.quantity, "closingPrice": s.close},
        )

    def top_ten_transaction(self) -> bytes:
        return self._top(
            "top_transaction",
            lambda s: s.trades,
            lambda s: True,
            lambda s: {"symbol": s.security.symbol, "totalTrades": s.trades, "lastTradedPrice": s.close},
        )

    def top_ten_turnover(self) -> bytes:
        return self._top(
            "top_turnover",
            lambda s: s.turnover,
            lambda s: True,
            lambda s: {"symbol": s.security.symbol, "turnover": s.turnover, "closingPrice": s.close},
        )

    def _mover_row(self, s: DayStats) -> Json:
        return {
            "symbol": s.security.symbol,
            "ltp": s.close,
            "cp": 0 if self.market.market_open else s.close,
            "pointChange": s.change,
            "percentageChange": s.percentage_change,
        }

    @functools.cached_property
    def _index_values(self) -> dict[int, dict[str, Json]]:
        return {index_id: self._index_value(index_id) for index_id in INDICES}

    def _index_value(self, index_id: int) -> dict[str, Json]:
        """As the site: ``close`` the previous session's close, ``currentValue`` today's value, ``previousClose``
        the previous close until the evening update (4 decimals) and today's close after it (see :func:`index_row`)."""
        day, market_open = self.market.index_today(index_id), self.market.market_open
        return index_row(index_id, day.previous_close, day.high, day.low, day.close, self._as_of, market_open)

    def nepse_index(self) -> bytes:
        return self._cached("nepse_index", lambda: [self._index_values[i] for i in MAIN_INDEX_IDS])

    def sub_indices(self) -> bytes:
        def build() -> Json:
            return [{k: self._index_values[i][k] for k in SUB_INDEX_FIELDS} for i in SUB_INDEX_IDS]

        return self._cached("sub_indices", build)

    def price_volume(self) -> bytes:
        def build() -> Json:
            return [
                {
                    "securityId": str(s.security.id),
                    "securityName": s.security.name,
                    "symbol": s.security.symbol,
                    "indexId": 58,
                    "totalTradeQuantity": s.quantity,
                    "lastTradedPrice": s.close,
                    "percentageChange": s.percentage_change,
                    "previousClose": s.previous_close_or_zero,
                    "closePrice": self._close(s),
                }
                for s in self._traded()
            ]

        return self._cached("price_volume", build)

    def live_market(self) -> bytes:
        return self._cached("live_market", lambda: live_market_rows(self.market, self._traded()))

    def supply_demand(self) -> bytes:
        def build() -> Json:
            rng = random.Random(f"nepse-sim:{self.market.seed}:supply-demand")
            listed = [s for s in self.market.securities if s.active_status == "A"]

            def side() -> list[Json]:
                rows = [
                    {
                        "totalQuantity": rng.randrange(1_000, 500_000, 10),
                        "totalOrder": rng.randint(5, 900),
                        "securityId": s.id,
                        "symbol": s.symbol,
                        "securityName": s.name,
                    }
                    for s in rng.sample(listed, 10)
                ]
                return sorted(rows, key=lambda r: -int(r["totalQuantity"]))

            return {"supplyList": side(), "demandList": side()}

        return self._cached("supply_demand", build)

    def company_list(self) -> bytes:
        def build() -> Json:
            return [
                {
                    "id": c.id,
                    "companyName": c.name,
                    "symbol": c.symbol,
                    "securityName": c.name,
                    "status": c.status,
                    "companyEmail": f"info@{c.symbol.lower()}.com.np",
                    "website": f"https://www.{c.symbol.lower()}.com.np",
                    "sectorName": c.sector.name,
                    "regulatoryBody": c.sector.regulatory_body,
                    "instrumentType": c.sector.instrument_type,
                }
                for c in self.market.companies
            ]

        return self._cached("company_list", build)

    def security_list(self, non_delisted: bool) -> bytes:
        def build() -> Json:
            return [
                {
                    "id": s.id,
                    "symbol": s.symbol,
                    "securityName": s.name,
                    "name": f"({s.symbol}) {s.name}",
                    "activeStatus": s.active_status,
                }
                for s in self.market.securities
                if not (non_delisted and s.active_status == "I")
            ]

        return self._cached(("security_list", non_delisted), build)

    # -- per security --------------------------------------------------------------------------------------

    def market_depth(self, security_id: int) -> bytes | None:
        security = self.security(security_id)
        if security is None:
            return None
        stats = self.market.day_stats.get(security_id)
        reference = stats.close if stats else security.previous_close
        rng = random.Random(f"nepse-sim:{self.market.seed}:depth:{security_id}")
        tick = 0.1 if reference < 100 else 1.0

        def level(k: int, buy: bool) -> Json:
            price = round(reference + (-(k + 1) if buy else k + 1) * tick, 1)
            return {
                "stockId": security_id,
                "orderBookOrderPrice": price,
                "quantity": rng.randrange(10, 5_000, 10),
                "orderCount": rng.randint(1, 30),
                "isBuy": 1 if buy else 2,
                "buy": buy,
                "sell": not buy,
            }

        buys = [level(k, True) for k in range(5)]
        sells = [level(k, False) for k in range(5)]
        return encode(
            {
                "totalBuyQty": sum(b["quantity"] for b in buys),
                "totalSellQty": sum(s["quantity"] for s in sells),
                "marketDepth": {"buyMarketDepthList": buys, "sellMarketDepthList": sells},
                "symbol": security.symbol,
                "timeStamp": int(self._as_of.timestamp() * 1000),
            }
        )

    def stock_intraday_graph(self, security_id: int) -> bytes | None:
        if self.security(security_id) is None:
            return None
        t, start = self.market.trades, self.market.session_start.timestamp()
        return encode(
            [
                {"contractQuantity": t.quantity[i], "contractRate": t.rate[i], "time": int(start + t.micros[i] / 1e6)}
                for i in self.market.trades_by_security.get(security_id, ())
            ]
        )

    # -- indices ---------------------------------------------------------------------------------------------

    def index_intraday_graph(self, index_id: int) -> bytes | None:
        if index_id not in INDICES:
            return None
        return self._cached(("index_graph", index_id), lambda: [list(p) for p in self.market.index_intraday(index_id)])

    # -- signed pages --------------------------------------------------------------------------------------

    def today_price(self, page: int, size: int) -> bytes:
        def build() -> bytes:
            return encode(spring_page(self._today_rows, page=page, size=size, sort=False))

        return self._pages.get(("today_price", page, size), build)

    @functools.cached_property
    def _today_rows(self) -> list[Json]:
        t = self.market.trades
        day = self.market.business_date.isoformat()
        rows = []
        for s in sorted(self._traded(), key=lambda s: s.security.symbol):
            sec = s.security
            first_day = s.previous_close is None
            rows.append(
                {
                    "id": None,
                    "businessDate": day,
                    "securityId": sec.id,
                    "symbol": sec.symbol,
                    "securityName": sec.name,
                    "openPrice": s.open,
                    "highPrice": s.high,
                    "lowPrice": s.low,
                    "closePrice": self._close(s),
                    "totalTradedQuantity": s.quantity,
                    "totalTradedValue": s.turnover,
                    "previousDayClosePrice": s.previous_close_or_zero,
                    "fiftyTwoWeekHigh": 0.0 if first_day else max(sec.year_high, s.high),
                    "fiftyTwoWeekLow": 0.0 if first_day else min(sec.year_low, s.low),
                    "lastUpdatedTime": self.market.trade_time_text(s.last_trade_seq),
                    "lastUpdatedPrice": t.rate[s.last_trade_seq],
                    "totalTrades": s.trades,
                    "averageTradedPrice": round(s.turnover / s.quantity, 2),
                    "marketCapitalization": None
                    if self.market.market_open
                    else round(s.close * sec.listed_shares / 1e6, 2),
                }
            )
        return rows


def index_row(
    index_id: int, previous: float, high: float, low: float, current: float, as_of: dt.datetime, market_open: bool
) -> dict[str, Json]:
    """One index as ``nepse-index`` and ``/api/nots`` list it, as the site means its fields: ``close`` the previous
    session's close, ``currentValue`` the value now (``change == currentValue - close``), ``previousClose`` the previous
    close (4 decimals) until the evening update and today's close after it."""
    opened = round(previous, 2)
    change = round(current - opened, 2)
    return {
        "id": index_id,
        "auditId": None,
        "exchangeIndexId": None,
        "generatedTime": as_of.replace(tzinfo=None).isoformat(timespec="milliseconds").rstrip("0").rstrip("."),
        "index": INDICES[index_id][0],
        "close": opened,
        "high": high,
        "low": low,
        "previousClose": round(previous, 4) if market_open else current,
        "change": change,
        "perChange": round(100 * change / opened, 2),
        "fiftyTwoWeekHigh": round(previous * 1.18, 2),
        "fiftyTwoWeekLow": round(previous * 0.81, 2),
        "currentValue": current,
    }


def live_market_rows(market: Market, traded: Iterable[DayStats]) -> Json:
    """The ``lives-market`` table: one row per security in ``traded``."""
    t = market.trades
    return [
        {
            "securityId": str(s.security.id),
            "securityName": s.security.name,
            "symbol": s.security.symbol,
            "indexId": 58,
            "openPrice": s.open,
            "highPrice": s.high,
            "lowPrice": s.low,
            "totalTradeQuantity": s.quantity,
            "totalTradeValue": s.turnover,
            "lastTradedPrice": s.close,
            "percentageChange": s.percentage_change,
            "lastUpdatedDateTime": market.trade_time_text(s.last_trade_seq, " "),
            "lastTradedVolume": t.quantity[s.last_trade_seq],
            "previousClose": s.previous_close_or_zero,
            "averageTradedPrice": round(s.turnover / s.quantity, 2),
        }
        for s in traded
    ]


@functools.lru_cache(maxsize=8)
def responses_for(market: Market) -> Responses:
    """The one :class:`Responses` of a market, so its caches are shared by every server of that market."""
    return Responses(market)
