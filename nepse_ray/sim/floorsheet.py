"""Floorsheet pages: the day's trades as ``{floorsheets: Page<row>, totalAmount, totalQty, totalTrades}``.

Rows are sorted by contractId descending and filtered by stock and broker. A page is rendered straight to JSON
text from the market's trade columns (each security's and broker's constant fields pre-encoded), then kept in a
:class:`~nepse_ray.sim.wire.BodyCache`: the first request of a 500-row page costs about 1.5 ms, a repeat a
dictionary lookup. Broker ids and names are null while the market is open.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import threading
from collections.abc import Sequence

from .market import BROKERS, Market
from .wire import BodyCache, encode, json_text, page_meta

ViewKey = tuple[int | None, int | None, int | None, int]


@dataclasses.dataclass(frozen=True, slots=True)
class FloorsheetView:
    """The trades one floorsheet query selects, newest contract first, with their totals."""

    rows: Sequence[int]
    total_amount: float
    total_qty: int


class FloorsheetPages:
    """Every floorsheet page of one market (shared by all servers of that market)."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self._pages = BodyCache(maxsize=256)
        self._views: dict[ViewKey, FloorsheetView] = {}
        self._view_lock = threading.Lock()
        self._row_prefix = self._row_templates()

    def _row_templates(self) -> dict[int, tuple[str, str]]:
        """security id -> the constant JSON text of its rows: the symbol field, and the id and name fields."""
        out = {}
        for sid in self.market.trades_by_security:
            sec = self.market.security_by_id[sid]
            out[sid] = (
                f'"stockSymbol":{json_text(sec.symbol)},',
                f'"stockId":{sid},"securityName":{json_text(sec.name)}}}',
            )
        return out

    @functools.cached_property
    def _broker_fields(self) -> tuple[list[str], list[str]]:
        """Per broker number: (member id JSON, broker name JSON), or nulls while the market is open."""
        if self.market.market_open:
            return ["null"] * (BROKERS + 1), ["null"] * (BROKERS + 1)
        ids = ["null"] + [f'"{b.number}"' for b in self.market.brokers]
        names = ["null"] + [json_text(b.name) for b in self.market.brokers]
        return ids, names

    def _rows_json(self, indices: Sequence[int]) -> str:
        """Trades as comma-separated JSON objects. The hot path of a page: every constant is bound once."""
        t, day, seconds = self.market.trades, self._day_text, self._second_texts
        security, quantity, rate, buyer, seller, micros = t.security, t.quantity, t.rate, t.buyer, t.seller, t.micros
        ids, names = self._broker_fields
        prefix, contract_base, book_base = self._row_prefix, self._contract_base, self._trade_book_base
        rows = []
        for i in indices:
            qty, price, b, s, us = quantity[i], rate[i], buyer[i], seller[i], micros[i]
            symbol, id_and_name = prefix[security[i]]
            rows.append(
                f'{{"contractId":{contract_base + i},{symbol}"buyerMemberId":{ids[b]},"sellerMemberId":{ids[s]},'
                f'"contractQuantity":{qty},"contractRate":{price!r},"contractAmount":{round(qty * price, 2)!r},'
                f'"businessDate":"{day}","tradeBookId":{book_base + i},"buyerBrokerName":{names[b]},'
                f'"sellerBrokerName":{names[s]},"tradeTime":"{seconds[us // 1_000_000]}{us % 1_000_000:06d}",'
                f"{id_and_name}"
            )
        return ",".join(rows)

    @functools.cached_property
    def _trade_book_base(self) -> int:
        return 100_000_000 + (self.market.business_date.toordinal() % 1000) * 60_000

    @functools.cached_property
    def _contract_base(self) -> int:
        return self.market.contract_id(0)

    @functools.cached_property
    def _day_text(self) -> str:
        return self.market.business_date.isoformat()

    @functools.cached_property
    def _second_texts(self) -> list[str]:
        """``"YYYY-MM-DDTHH:MM:SS."`` for every second of the session, indexed from its start."""
        start = self.market.session_start.replace(tzinfo=None)
        seconds = int((self.market.session_end - self.market.session_start).total_seconds()) + 1
        return [(start + dt.timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%S.") for k in range(seconds)]

    @functools.cached_property
    def _running_totals(self) -> tuple[list[float], list[int]]:
        """Amount and quantity of the first n trades, for every n: the totals of a live day's growing floorsheet."""
        t = self.market.trades
        amounts = list(itertools.accumulate((q * r for q, r in zip(t.quantity, t.rate, strict=True)), initial=0.0))
        return amounts, list(itertools.accumulate(t.quantity, initial=0))

    def view(
        self,
        stock_id: int | None = None,
        buyer: int | None = None,
        seller: int | None = None,
        visible: int | None = None,
    ) -> FloorsheetView:
        """The trades a query selects among the first ``visible`` (default: all) in contract order."""
        t = self.market.trades
        count = len(t) if visible is None else min(visible, len(t))
        if (stock_id, buyer, seller) == (None, None, None):
            amounts, quantities = self._running_totals
            return FloorsheetView(range(count - 1, -1, -1), round(amounts[count], 2), quantities[count])
        key = (stock_id, buyer, seller, count)
        with self._view_lock:
            view = self._views.get(key)
        if view is not None:
            return view
        candidates = self.market.trades_by_security.get(stock_id, []) if stock_id is not None else range(len(t))
        rows = [
            i
            for i in reversed(candidates)
            if i < count and (buyer is None or t.buyer[i] == buyer) and (seller is None or t.seller[i] == seller)
        ]
        view = FloorsheetView(
            rows,
            total_amount=round(sum(t.quantity[i] * t.rate[i] for i in rows), 2),
            total_qty=sum(t.quantity[i] for i in rows),
        )
        with self._view_lock:
            if len(self._views) > 512:
                self._views.clear()
            self._views[key] = view
        return view

    def page(
        self,
        page: int,
        size: int,
        stock_id: int | None = None,
        buyer: int | None = None,
        seller: int | None = None,
        visible: int | None = None,
    ) -> bytes:
        """One page of the ``{floorsheets: Page, totalAmount, totalQty, totalTrades}`` wrapper.

        ``visible`` limits the day to its first trades (a live day that is still growing).
        """
        key = ("floorsheet", stock_id, buyer, seller, page, size, visible)

        def build() -> bytes:
            view = self.view(stock_id, buyer, seller, visible)
            chunk = view.rows[page * size : (page + 1) * size]
            meta = page_meta(page=page, size=size, total=len(view.rows), count=len(chunk), sort=True)
            content = self._rows_json(chunk)
            totals = {"totalAmount": view.total_amount, "totalQty": view.total_qty, "totalTrades": len(view.rows)}
            return (
                f'{{"floorsheets":{{"content":[{content}],{encode(meta).decode()[1:]},{encode(totals).decode()[1:]}'
            ).encode()

        return self._pages.get(key, build)
