"""The trading days a simulator serves: its business day, which may be live, and closed days before it.

The business day is the market the simulator was started with. With ``live_trades_per_s`` its floorsheet grows
while the server runs: the first ``trades`` exist at start, and one more of the trades kept back becomes visible
every ``1 / live_trades_per_s`` seconds, with a higher contract id, so it appears at the top of the contractId-desc
floorsheet and ``totalElements`` grows. :meth:`TradingDays.visible_trades` is the ground truth: the trades that
exist at a given moment are the first that many in contract order. The live market table and the indices move
with them (:meth:`TradingDays.live`, :mod:`~nepse_ray.sim.live`).

``past_days`` earlier trading days (Sunday to Thursday) are served closed, each a market of its own built from the
same listing. A day the simulator does not serve (a Friday or Saturday, a day older than that, a day after the
business day) answers like the site: a page with no rows and ``totalElements`` 0.

>>> import datetime as dt
>>> from .market import build_market
>>> from .responses import responses_for
>>> market = build_market(seed=1, trades=100, business_date=dt.date(2025, 10, 30), market_open=True, live=50)
>>> days = TradingDays(responses_for(market), {}, live_trades_per_s=10.0, started=0.0)
>>> days.visible_trades(now=0.0), days.visible_trades(now=2.05), days.visible_trades(now=99.0)
(100, 120, 150)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping

from .live import LiveDay
from .responses import Responses
from .wire import encode, spring_page


class TradingDays:
    """Routes a ``businessDate`` to the market that serves it, and reveals live trades as time passes."""

    __slots__ = ("_live", "_live_rate", "_past", "_started", "current")

    def __init__(
        self, current: Responses, past: Mapping[dt.date, Responses], *, live_trades_per_s: float, started: float
    ) -> None:
        self.current = current
        self._past = dict(past)
        self._live_rate = live_trades_per_s
        self._started = started
        self._live = LiveDay(current.market) if live_trades_per_s else None
        if self._live is not None:
            self._live.advance(current.market.initial_trades)

    @property
    def served(self) -> tuple[dt.date, ...]:
        """Every day with data, oldest first."""
        return (*sorted(self._past), self.current.market.business_date)

    def responses(self, day: dt.date | None) -> Responses | None:
        """The market serving ``day`` (``None`` = the business day), or None when the site has nothing for it."""
        if day is None or day == self.current.market.business_date:
            return self.current
        return self._past.get(day)

    def visible_trades(self, now: float) -> int:
        """How many of the business day's trades exist at ``now`` (server clock seconds)."""
        market = self.current.market
        if not self._live_rate:
            return len(market.trades)
        arrived = math.floor(max(0.0, now - self._started) * self._live_rate)
        return min(len(market.trades), market.initial_trades + arrived)

    def live(self, now: float) -> LiveDay | None:
        """The live business day as it stands at ``now`` (its prices, volumes and indices follow the trades that
        exist then); None when the simulator is not live."""
        if self._live is not None:
            self._live.advance(self.visible_trades(now))
        return self._live

    def floorsheet(
        self,
        day: dt.date | None,
        now: float,
        page: int,
        size: int,
        stock_id: int | None = None,
        buyer: int | None = None,
        seller: int | None = None,
    ) -> bytes:
        responses = self.responses(day)
        if responses is None:  # an empty view of the business day: the wrapper with no rows
            return self.current.floorsheets.page(page, size, stock_id, buyer, seller, visible=0)
        visible = self.visible_trades(now) if responses is self.current else None
        return responses.floorsheets.page(page, size, stock_id, buyer, seller, visible=visible)

    def today_price(self, day: dt.date | None, page: int, size: int) -> bytes:
        responses = self.responses(day)
        if responses is None:
            return encode(spring_page([], page=page, size=size, sort=False))
        return responses.today_price(page, size)
