"""The JSON bodies the simulator serves, rendered from a :class:`~nepse_ray.sim.market.Market`.

Field names and types follow the real site's answers (samples observed 2022-2026) and validate against
:mod:`nepse_ray.nepse.models`; pydantic stays off this path. Bodies that never change are encoded once; floorsheet pages
live in :mod:`~nepse_ray.sim.floorsheet`. Methods return ``None`` for an unknown security or index id (the app answers
404).
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Callable, Iterable
from typing import Any

from .floorsheet import FloorsheetPages
from .market import (
    INDICES,
    MAIN_INDEX_IDS,
    SUB_INDEX_IDS,
    DailyBar,
    DayStats,
    Market,
    Security,
    history_window_start,
)
from .wire import BodyCache, Json, encode, spring_page


class Responses:
    """Every endpoint's body for one market. Shared by all servers of that market (see :func:`responses_for`)."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self._static: dict[object, bytes] = {}
        self._pages = BodyCache(maxsize=64)
        self.floorsheets = FloorsheetPages(market)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _cached(self, key: object, build: Callable[[], Json]) -> bytes:
        body = self._static.get(key)
        if body is None:
            body = self._static[key] = encode(build())
        return body

    def _traded(self) -> list[DayStats]:
        return list(self.market.day_stats.values())

    def _time_text(self, index: int, separator: str = "T") -> str:
        return self.market.trade_time(index).strftime(f"%Y-%m-%d{separator}%H:%M:%S.%f")

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
            cap = sum(s.previous_close * s.listed_shares for s in self.market.securities if s.active_status == "A")
            return [
                {"detail": "Total Turnover Rs:", "value": round(sum(t.turnover for t in traded), 2)},
                {"detail": "Total Traded Shares", "value": float(sum(t.quantity for t in traded))},
                {"detail": "Total Transactions", "value": float(sum(t.trades for t in traded))},
                {"detail": "Total Scrips Traded", "value": float(len(traded))},
                {"detail": "Total Market Capitalization Rs:", "value": round(cap, 2)},
                {"detail": "Total Float Market Capitalization Rs:", "value": round(cap * 0.41, 2)},
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

    @staticmethod
    def _mover_row(s: DayStats) -> Json:
        return {
            "symbol": s.security.symbol,
            "ltp": s.close,
            "cp": s.security.previous_close,
            "pointChange": s.change,
            "percentageChange": s.percentage_change,
        }

    @functools.cached_property
    def _index_values(self) -> dict[int, dict[str, Json]]:
        return {index_id: self._index_value(index_id) for index_id in INDICES}

    def _index_value(self, index_id: int) -> dict[str, Json]:
        values = [v for _, v in self.market.index_intraday(index_id)]
        previous = self.market.index_levels[index_id]
        return index_row(index_id, previous, max(values), min(values), values[-1], self._as_of)

    def nepse_index(self) -> bytes:
        return self._cached("nepse_index", lambda: [self._index_values[i] for i in MAIN_INDEX_IDS])

    def sub_indices(self) -> bytes:
        return self._cached("sub_indices", lambda: [self._index_values[i] for i in SUB_INDEX_IDS])

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
                    "previousClose": s.security.previous_close,
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

    def _bars(self, security: Security) -> list[DailyBar]:
        """History plus the business day itself when the security traded, oldest first."""
        bars = list(self.market.history(security))
        stats = self.market.day_stats.get(security.id)
        if stats is not None:
            bars.append(
                DailyBar(
                    self.market.business_date,
                    stats.open,
                    stats.high,
                    stats.low,
                    stats.close,
                    security.previous_close,
                    stats.quantity,
                    stats.turnover,
                    stats.trades,
                )
            )
        return bars

    def security_price_history(
        self, security_id: int, start: dt.date | None, end: dt.date | None, page: int, size: int
    ) -> bytes | None:
        """Newest first, only within the site's window (:func:`~nepse_ray.sim.market.history_window_start`)."""
        security = self.security(security_id)
        if security is None:
            return None
        oldest = history_window_start(self.market.business_date)
        start = oldest if start is None else max(start, oldest)
        rows = [
            {
                "businessDate": b.business_date.isoformat(),
                "totalTrades": b.trades,
                "totalTradedQuantity": b.quantity,
                "totalTradedValue": b.turnover,
                "highPrice": b.high,
                "lowPrice": b.low,
                "closePrice": b.close,
            }
            for b in reversed(self._bars(security))
            if b.business_date >= start and (end is None or b.business_date <= end)
        ]
        return encode(spring_page(rows, page=page, size=size, sort=False))

    def daily_price_graph(self, security_id: int) -> bytes | None:
        security = self.security(security_id)
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
                for b in self._bars(security)
            ]
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

    def security_detail(self, security_id: int) -> bytes | None:
        security = self.security(security_id)
        if security is None:
            return None
        stats = self.market.day_stats.get(security_id)
        day = self.market.business_date.isoformat()
        sector = security.sector
        price = stats.close if stats else security.previous_close
        promoter_pct = 51.0 if sector else 100.0
        return encode(
            {
                "securityDailyTradeDto": {
                    "securityId": str(security_id),
                    "businessDate": day,
                    "openPrice": stats.open if stats else None,
                    "highPrice": stats.high if stats else None,
                    "lowPrice": stats.low if stats else None,
                    "totalTradeQuantity": stats.quantity if stats else 0,
                    "totalTrades": stats.trades if stats else 0,
                    "lastTradedPrice": price,
                    "previousClose": security.previous_close,
                    "closePrice": None if self.market.market_open else price,
                    "fiftyTwoWeekHigh": security.year_high,
                    "fiftyTwoWeekLow": security.year_low,
                    "lastUpdatedDateTime": self._time_text(stats.last_trade_seq) if stats else None,
                },
                "security": {
                    "id": security_id,
                    "symbol": security.symbol,
                    "isin": f"NPE{security_id:06d}A00{security_id % 10}",
                    "permittedToTrade": "Y",
                    "listingDate": "2012-07-15",
                    "instrumentType": {
                        "id": 1,
                        "code": "EQ" if security.instrument_type == "Equity" else "MF",
                        "description": security.instrument_type,
                        "activeStatus": "A",
                    },
                    "companyId": {
                        "id": security.company_id,
                        "companyShortName": security.name,
                        "companyName": security.name,
                        "email": f"info@{security.symbol.lower()}.com.np",
                        "companyWebsite": f"https://www.{security.symbol.lower()}.com.np",
                        "sectorMaster": {
                            "id": sector.index_id if sector else None,
                            "sectorDescription": sector.name if sector else "Promoter Share",
                            "activeStatus": "A",
                            "regulatoryBody": sector.regulatory_body if sector else None,
                        },
                        "activeStatus": security.active_status,
                    },
                    "faceValue": 10.0 if security.instrument_type == "Mutual Funds" else 100.0,
                    "tickSize": 0.1,
                    "securityName": security.name,
                    "isPromoter": "N" if sector else "Y",
                },
                "securityId": security_id,
                "stockListedShares": float(security.listed_shares),
                "paidUpCapital": float(security.listed_shares * 100),
                "issuedCapital": float(security.listed_shares * 100),
                "marketCapitalization": round(price * security.listed_shares, 2),
                "publicShares": round(security.listed_shares * (100 - promoter_pct) / 100),
                "publicPercentage": 100 - promoter_pct,
                "promoterShares": round(security.listed_shares * promoter_pct / 100),
                "promoterPercentage": promoter_pct,
                "updatedDate": day,
            }
        )

    # -- indices ---------------------------------------------------------------------------------------------

    def index_intraday_graph(self, index_id: int) -> bytes | None:
        if index_id not in INDICES:
            return None
        return self._cached(("index_graph", index_id), lambda: [list(p) for p in self.market.index_intraday(index_id)])

    def index_history(self, index_id: int, page: int, size: int) -> bytes | None:
        if index_id not in INDICES:
            return None
        days = self.market.index_history(index_id)
        today = self._index_values[index_id]
        rows = [
            {
                "id": None,
                "businessDate": self.market.business_date.isoformat(),
                "exchangeIndexId": index_id,
                "closingIndex": today["close"],
                "openIndex": today["previousClose"],
                "highIndex": today["high"],
                "lowIndex": today["low"],
                "fiftyTwoWeekHigh": today["fiftyTwoWeekHigh"],
                "fiftyTwoWeekLow": today["fiftyTwoWeekLow"],
                "turnoverValue": days[-1].turnover,
                "turnoverVolume": days[-1].volume,
                "totalTransaction": len(self.market.trades),
                "absChange": today["change"],
                "percentageChange": today["perChange"],
            }
        ]
        rows += [
            {
                "id": None,
                "businessDate": d.business_date.isoformat(),
                "exchangeIndexId": index_id,
                "closingIndex": d.close,
                "openIndex": d.open,
                "highIndex": d.high,
                "lowIndex": d.low,
                "fiftyTwoWeekHigh": today["fiftyTwoWeekHigh"],
                "fiftyTwoWeekLow": today["fiftyTwoWeekLow"],
                "turnoverValue": d.turnover,
                "turnoverVolume": d.volume,
                "totalTransaction": d.transactions,
                "absChange": round(d.close - d.previous_close, 2),
                "percentageChange": round(100 * (d.close - d.previous_close) / d.previous_close, 2),
            }
            for d in reversed(days)
        ]
        return encode(spring_page(rows, page=page, size=size, sort=True))

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
                    "previousDayClosePrice": sec.previous_close,
                    "fiftyTwoWeekHigh": max(sec.year_high, s.high),
                    "fiftyTwoWeekLow": min(sec.year_low, s.low),
                    "lastUpdatedTime": self._time_text(s.last_trade_seq),
                    "lastUpdatedPrice": t.rate[s.last_trade_seq],
                    "totalTrades": s.trades,
                    "averageTradedPrice": round(s.turnover / s.quantity, 2),
                    "marketCapitalization": round(s.close * sec.listed_shares / 1e6, 2),
                }
            )
        return rows


def index_row(
    index_id: int, previous: float, high: float, low: float, close: float, as_of: dt.datetime
) -> dict[str, Json]:
    """One index as ``nepse-index`` and ``/api/nots`` list it: the day from ``previous`` close to ``close`` now."""
    change = round(close - previous, 2)
    return {
        "id": index_id,
        "auditId": None,
        "exchangeIndexId": None,
        "generatedTime": as_of.replace(tzinfo=None).isoformat(timespec="milliseconds"),
        "index": INDICES[index_id][0],
        "close": close,
        "high": high,
        "low": low,
        "previousClose": round(previous, 2),
        "change": change,
        "perChange": round(100 * change / previous, 2),
        "fiftyTwoWeekHigh": round(previous * 1.18, 2),
        "fiftyTwoWeekLow": round(previous * 0.81, 2),
        "currentValue": close,
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
            "lastUpdatedDateTime": market.trade_time(s.last_trade_seq).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "lastTradedVolume": t.quantity[s.last_trade_seq],
            "previousClose": s.security.previous_close,
            "averageTradedPrice": round(s.turnover / s.quantity, 2),
        }
        for s in traded
    ]


@functools.lru_cache(maxsize=8)
def responses_for(market: Market) -> Responses:
    """The one :class:`Responses` of a market, so its caches are shared by every server of that market."""
    return Responses(market)
