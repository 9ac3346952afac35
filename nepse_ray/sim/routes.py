"""The ``/api/nots`` endpoints the simulator serves: each one's name (the catalogue's, where nepse-ray's client
calls it), its method and path, and its body.

Handlers read path and query values (a malformed one raises :class:`BadRequest`, answered 400), then ask
:class:`~nepse_ray.sim.responses.Responses` (or its ``history`` and ``directory`` parts) for the encoded body;
``None`` means an unknown security or index id (answered 404). A page without ``size`` has Spring's default of
:data:`DEFAULT_PAGE_SIZE` rows, and ``size`` is capped at ``max_page_size`` (500), except a security's history,
which the site caps at :data:`HISTORY_PAGE_CAP`. Besides the catalogue's endpoints the site serves, and other
clients call, GET forms and directories (``security/{id}``, ``market/security/price/{id}``, ``index``,
``securities``, ``application/dividend/{id}``, ``market-summary-history``, ``sectorwise``,
``nepse-data/marcapbydate/``, GET ``market/graphdata/{id}``). ``security/floorsheet/{id}`` answers the site's
nginx 403 page unless ``security_floorsheet_rows`` is set.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

from aiohttp import web

from ..nepse.payload import VARIANT_BY_ENDPOINT
from .config import SimConfig
from .days import TradingDays
from .live import LiveDay
from .wire import encode

#: The site caps a security's history page at 2,000 rows (asked for size=10000, it answered size 2000).
HISTORY_PAGE_CAP = 2000
#: Spring Data's page size when the request names none (the site's today-price and index history show it).
DEFAULT_PAGE_SIZE = 20


class BadRequest(Exception):
    """A query or path value the site would refuse with 400."""


Handler = Callable[[web.Request], bytes | None]


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One ``/api/nots`` endpoint: its name (the catalogue's), method, path and body builder."""

    name: str
    method: str
    path: str
    handler: Handler
    paged: bool = False
    #: True while the site's nginx refuses the path outright (403 page, before any other check).
    blocked: Callable[[], bool] = lambda: False

    @property
    def signed(self) -> bool:
        """A POST whose body must carry the payload id (the GET form of the same path has no body)."""
        return self.method == "POST" and self.name in VARIANT_BY_ENDPOINT


def _int(value: str, what: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadRequest(f"{what} must be an integer, got {value!r}") from None
    if number < 0:
        raise BadRequest(f"{what} must not be negative, got {number}")
    return number


def _query_int(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    return None if value in (None, "") else _int(value, name)


def _query_date(request: web.Request, name: str) -> dt.date | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be YYYY-MM-DD, got {value!r}") from None


def _path_int(request: web.Request, name: str) -> int:
    return _int(request.match_info[name], name)


def data_routes(days: TradingDays, config: Callable[[], SimConfig], now: Callable[[], float]) -> list[Route]:
    """Every data endpoint; ``config`` returns the configuration in force (it changes at runtime), ``now`` the
    server's clock (a live floorsheet grows with it)."""
    r = days.current

    def page_args(request: web.Request, cap: int | None = None) -> tuple[int, int]:
        page = _query_int(request, "page") or 0
        size = _query_int(request, "size")
        if size == 0:
            raise BadRequest("size must be at least 1")
        limit = cap or config().max_page_size
        return page, min(size or DEFAULT_PAGE_SIZE, limit)

    def floorsheet(request: web.Request) -> bytes:
        page, size = page_args(request)
        return days.floorsheet(
            _query_date(request, "businessDate"),
            now(),
            page,
            size,
            stock_id=_query_int(request, "stockId"),
            buyer=_query_int(request, "buyerBroker"),
            seller=_query_int(request, "sellerBroker"),
        )

    def security_floorsheet(request: web.Request) -> bytes | None:
        security_id = _path_int(request, "security_id")
        if r.security(security_id) is None:
            return None
        page, size = page_args(request)
        return days.floorsheet(_query_date(request, "businessDate"), now(), page, size, stock_id=security_id)

    def security_history(build: Callable[..., bytes | None]) -> Handler:
        def handler(request: web.Request) -> bytes | None:
            page, size = page_args(request, HISTORY_PAGE_CAP)
            start, end = _query_date(request, "startDate"), _query_date(request, "endDate")
            return build(_path_int(request, "security_id"), start, end, page, size)

        return handler

    def index_history(request: web.Request) -> bytes | None:
        page, size = page_args(request)
        dates: tuple[dt.date | None, dt.date | None] = (None, None)
        if config().honour_index_dates:
            dates = (_query_date(request, "startDate"), _query_date(request, "endDate"))
        return r.history.index_history(_path_int(request, "index_id"), *dates, page, size)

    def market_cap_history(request: web.Request) -> bytes:
        day = request.query.get("date", "").replace("/", "-")
        try:
            return r.history.market_cap_history(dt.date.fromisoformat(day) if day else None)
        except ValueError:
            raise BadRequest(f"date must be YYYY-MM-DD or YYYY/MM/DD, got {day!r}") from None

    def sector_summary(request: web.Request) -> bytes:
        served = days.responses(_query_date(request, "businessDate"))
        return served.directory.sector_summary() if served is not None else encode([])

    def today_price(request: web.Request) -> bytes:
        page, size = page_args(request)
        return days.today_price(_query_date(request, "businessDate"), page, size)

    def by_security(build: Callable[[int], bytes | None]) -> Handler:
        return lambda request: build(_path_int(request, "security_id"))

    def constant(build: Callable[[], bytes]) -> Handler:
        return lambda request: build()

    history, directory = r.history, r.directory

    def moving(build: Callable[[], bytes], live: Callable[[LiveDay], bytes]) -> Handler:
        """The live day's body while trades arrive (``live_trades_per_s``), the day's body otherwise."""

        def handler(request: web.Request) -> bytes:
            day = days.live(now())
            return build() if day is None else live(day)

        return handler

    def index_graph(request: web.Request) -> bytes | None:
        index_id, day = _path_int(request, "index_id"), days.live(now())
        return r.index_intraday_graph(index_id) if day is None else day.index_intraday_graph(index_id)

    nots = "/api/nots"
    return [
        Route("market_open", "GET", f"{nots}/nepse-data/market-open", lambda _: r.market_open(config().market_id)),
        Route("market_summary", "GET", f"{nots}/market-summary/", constant(r.market_summary)),
        Route("disclosures", "GET", f"{nots}/news/companies/disclosure", constant(r.disclosures)),
        Route("top_ten_trade", "GET", f"{nots}/top-ten/trade", constant(r.top_ten_trade)),
        Route("top_ten_transaction", "GET", f"{nots}/top-ten/transaction", constant(r.top_ten_transaction)),
        Route("top_ten_turnover", "GET", f"{nots}/top-ten/turnover", constant(r.top_ten_turnover)),
        Route("top_gainers", "GET", f"{nots}/top-ten/top-gainer", constant(r.top_gainers)),
        Route("top_losers", "GET", f"{nots}/top-ten/top-loser", constant(r.top_losers)),
        Route("nepse_index", "GET", f"{nots}/nepse-index", moving(r.nepse_index, LiveDay.nepse_index)),
        Route("sub_indices", "GET", nots, moving(r.sub_indices, LiveDay.sub_indices)),
        Route("index_intraday_graph", "POST", f"{nots}/graph/index/{{index_id}}", index_graph),
        Route(
            "stock_intraday_graph",
            "POST",
            f"{nots}/market/graphdata/daily/{{security_id}}",
            by_security(r.stock_intraday_graph),
        ),
        Route("price_volume", "GET", f"{nots}/securityDailyTradeStat/58", constant(r.price_volume)),
        Route(
            "security_list",
            "GET",
            f"{nots}/security",
            lambda request: r.security_list(request.query.get("nonDelisted", "true").lower() != "false"),
        ),
        Route("market_depth", "GET", f"{nots}/nepse-data/marketdepth/{{security_id}}", by_security(r.market_depth)),
        Route("supply_demand", "GET", f"{nots}/nepse-data/supplydemand", constant(r.supply_demand)),
        Route(
            "security_price_history",
            "GET",
            f"{nots}/market/history/security/{{security_id}}",
            security_history(history.security_price_history),
            paged=True,
        ),
        Route(
            "security_price",
            "GET",
            f"{nots}/market/security/price/{{security_id}}",
            security_history(history.security_price),
            paged=True,
        ),
        Route("index_history", "GET", f"{nots}/index/history/{{index_id}}", index_history, paged=True),
        Route(
            "daily_price_graph",
            "POST",
            f"{nots}/market/graphdata/{{security_id}}",
            by_security(history.daily_price_graph),
        ),
        Route(
            "daily_price_graph",
            "GET",
            f"{nots}/market/graphdata/{{security_id}}",
            by_security(history.daily_price_graph),
        ),
        Route(
            "market_summary_history", "GET", f"{nots}/market-summary-history", constant(history.market_summary_history)
        ),
        Route("market_cap_history", "GET", f"{nots}/nepse-data/marcapbydate/", market_cap_history),
        Route("company_list", "GET", f"{nots}/company/list", constant(r.company_list)),
        Route("live_market", "GET", f"{nots}/lives-market", moving(r.live_market, LiveDay.live_market)),
        Route("security_detail", "POST", f"{nots}/security/{{security_id}}", by_security(directory.security_detail)),
        Route("security_data", "GET", f"{nots}/security/{{security_id}}", by_security(directory.security_data)),
        Route("securities", "GET", f"{nots}/securities", constant(directory.securities)),
        Route("index_list", "GET", f"{nots}/index", constant(directory.index_list)),
        Route("dividends", "GET", f"{nots}/application/dividend/{{security_id}}", by_security(directory.dividends)),
        Route("sector_summary", "GET", f"{nots}/sectorwise", sector_summary),
        Route("floorsheet", "POST", f"{nots}/nepse-data/floorsheet", floorsheet, paged=True),
        Route(
            "security_floorsheet",
            "POST",
            f"{nots}/security/floorsheet/{{security_id}}",
            security_floorsheet,
            paged=True,
            blocked=lambda: not config().security_floorsheet_rows,
        ),
        Route("today_price", "POST", f"{nots}/nepse-data/today-price", today_price, paged=True),
    ]
