"""The endpoint catalogue: one table that says how to call every NEPSE endpoint nepse-ray supports.

Each :class:`Endpoint` names its HTTP method, path template, the Python-named parameters it takes (and the
query names they travel as), its payload variant if the body is signed, whether it is paged, and the pydantic
type its response validates into. Beside it, :data:`SESSION_METHODS` lists the session methods: what one session
(one token) knows without a request of its own — the token, its salts, the market id, the payload ids, the security
brief. :mod:`~nepse_ray.nepse.methods` turns both tables into typed methods, which the single-token client, the
pool facade and its ObjectRef form inherit, so every caller sees the same surface.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from . import models as m
from .errors import NepseInputError, NepseInvalidResponseError
from .payload import VARIANT_BY_ENDPOINT, PayloadVariant
from .tokens import Salts

Kind = Literal["path", "query"]


@dataclasses.dataclass(frozen=True, slots=True)
class Param:
    """One argument of an endpoint: its Python name, where it goes, and its wire name."""

    name: str
    kind: Kind
    wire: str
    required: bool = False
    default: object = None


@dataclasses.dataclass(frozen=True)
class Endpoint:
    name: str
    method: Literal["GET", "POST"]
    path: str
    response: Any
    params: tuple[Param, ...] = ()
    fixed_query: tuple[tuple[str, str], ...] = ()
    paged: bool = False
    page_field: str | None = None  # where the Spring page sits in a wrapped response
    doc: str = ""
    never_sent: frozenset[str] = frozenset()
    """Optional fields of the row model that the site never sends for this endpoint (the model is shared with one
    that does): their absence is the site as known, not drift (``drift.py``)."""

    @property
    def variant(self) -> PayloadVariant | None:
        return VARIANT_BY_ENDPOINT.get(self.name)

    @property
    def signed(self) -> bool:
        return self.variant is not None

    @property
    def rejects_as_empty_list(self) -> bool:
        """True when ``200 []`` cannot be a real answer (the site's reply to a wrong payload id)."""
        return getattr(self.response, "__origin__", None) is not list

    @functools.cached_property
    def adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.response)

    def parse(self, payload: object) -> Any:
        """Validate a decoded JSON body into this endpoint's response type.

        The error is raised outside the ``except`` block, so it keeps no reference (``__context__``) to pydantic's,
        which holds the values of the body (a prove's tokens and salts among them).
        """
        try:
            return self.adapter.validate_python(payload)
        except ValidationError as exc:
            failure = self.shape_error(exc)
        raise failure

    def shape_error(self, exc: ValidationError) -> NepseInvalidResponseError:
        """The error for a response that failed validation: where and why, never the values."""
        return NepseInvalidResponseError(
            f"{self.name}: the response does not have the expected shape ({exc.error_count()} problems, "
            f"first: {exc.errors()[0]['loc']} {exc.errors()[0]['msg']})",
            endpoint=self.name,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class PreparedCall:
    """An endpoint call with its parameters checked and placed: ready for a transport."""

    endpoint: Endpoint
    path: str
    query: tuple[tuple[str, str], ...]


def _security(required: bool = True) -> Param:
    return Param("security_id", "path", "security_id", required=required)


def _index() -> Param:
    return Param("index_id", "path", "index_id", required=True)


def _paging(size: int = 500) -> tuple[Param, ...]:
    return (Param("page", "query", "page", default=0), Param("size", "query", "size", default=size))


_DATE = Param("business_date", "query", "businessDate")

CATALOGUE: Mapping[str, Endpoint] = {
    e.name: e
    for e in (
        Endpoint("market_open", "GET", "/api/nots/nepse-data/market-open", m.MarketOpen,
                 doc="Whether the market is open, as of when, and the market id used by payload ids."),
        Endpoint("market_summary", "GET", "/api/nots/market-summary/", list[m.SummaryItem],
                 doc="Turnover, traded shares, transactions, scrips traded and market capitalisation."),
        Endpoint("disclosures", "GET", "/api/nots/news/companies/disclosure", m.Disclosures,
                 doc="Exchange messages and company news."),
        Endpoint("top_ten_trade", "GET", "/api/nots/top-ten/trade", list[m.TopTrade],
                 doc="Securities by shares traded."),
        Endpoint("top_ten_transaction", "GET", "/api/nots/top-ten/transaction", list[m.TopTransaction],
                 doc="Securities by number of transactions."),
        Endpoint("top_ten_turnover", "GET", "/api/nots/top-ten/turnover", list[m.TopTurnover],
                 doc="Securities by turnover."),
        Endpoint("top_gainers", "GET", "/api/nots/top-ten/top-gainer", list[m.TopMover],
                 doc="Top gainers by percentage change."),
        Endpoint("top_losers", "GET", "/api/nots/top-ten/top-loser", list[m.TopMover],
                 doc="Top losers by percentage change."),
        Endpoint("nepse_index", "GET", "/api/nots/nepse-index", list[m.IndexValue],
                 doc="NEPSE, Sensitive, Float and Sensitive Float indices (ids 58, 57, 62, 63)."),
        Endpoint("sub_indices", "GET", "/api/nots", list[m.IndexValue],
                 doc="The 13 sector sub-indices.",
                 never_sent=frozenset({"close", "high", "low", "previousClose", "fiftyTwoWeekHigh",
                                       "fiftyTwoWeekLow", "generatedTime"})),
        Endpoint("index_intraday_graph", "POST", "/api/nots/graph/index/{index_id}", list[m.IndexGraphPoint],
                 params=(_index(),), doc="Today's [epochSeconds, value] points of one index (51..67)."),
        Endpoint("stock_intraday_graph", "POST", "/api/nots/market/graphdata/daily/{security_id}",
                 list[m.IntradayTick], params=(_security(),), doc="Today's trades of one security."),
        Endpoint("price_volume", "GET", "/api/nots/securityDailyTradeStat/58", list[m.TradeStat],
                 doc="Price and volume of every security traded today."),
        Endpoint("security_list", "GET", "/api/nots/security", list[m.SecurityBrief],
                 params=(Param("non_delisted", "query", "nonDelisted", default=True),),
                 doc="Security briefs: the id, symbol and name of every (non-delisted) security."),
        Endpoint("market_depth", "GET", "/api/nots/nepse-data/marketdepth/{security_id}", m.MarketDepth,
                 params=(_security(),), doc="The order book of one security."),
        Endpoint("supply_demand", "GET", "/api/nots/nepse-data/supplydemand", m.SupplyDemand,
                 doc="Securities with the largest open supply and demand."),
        Endpoint("security_price_history", "GET", "/api/nots/market/history/security/{security_id}",
                 m.Page[m.PriceHistoryRow], paged=True,
                 params=(_security(), Param("start_date", "query", "startDate"),
                         Param("end_date", "query", "endDate"), *_paging()),
                 doc="Daily trading history of one security, one page at a time."),
        Endpoint("index_history", "GET", "/api/nots/index/history/{index_id}", m.Page[m.IndexHistoryRow],
                 paged=True, params=(_index(), *_paging()), doc="Daily history of one index, newest first."),
        Endpoint("daily_price_graph", "POST", "/api/nots/market/graphdata/{security_id}",
                 list[m.DailyPricePoint], params=(_security(),), doc="Daily OHLC points of one security."),
        Endpoint("company_list", "GET", "/api/nots/company/list", list[m.Company],
                 doc="Every listed company with its sector and instrument type."),
        Endpoint("live_market", "GET", "/api/nots/lives-market", list[m.LiveMarketRow],
                 doc="The live market table (prices while the market is open)."),
        Endpoint("security_detail", "POST", "/api/nots/security/{security_id}", m.SecurityDetail,
                 params=(_security(),), doc="Today's trading and the static details of one security."),
        Endpoint("floorsheet", "POST", "/api/nots/nepse-data/floorsheet", m.FloorsheetResponse,
                 paged=True, page_field="floorsheets", fixed_query=(("sort", "contractId,desc"),),
                 params=(*_paging(), _DATE, Param("stock_id", "query", "stockId"),
                         Param("buyer_broker", "query", "buyerBroker"),
                         Param("seller_broker", "query", "sellerBroker")),
                 doc="One page of the market-wide floorsheet (trades, newest contract first)."),
        Endpoint("security_floorsheet", "POST", "/api/nots/security/floorsheet/{security_id}",
                 m.FloorsheetResponse, paged=True, page_field="floorsheets",
                 fixed_query=(("sort", "contractid,desc"),),
                 params=(_security(), dataclasses.replace(_DATE, required=True), *_paging()),
                 doc="One page of one security's floorsheet for a business date (often refused by the site)."),
        Endpoint("today_price", "POST", "/api/nots/nepse-data/today-price", m.Page[m.TodayPriceRow],
                 paged=True, params=(_DATE, *_paging()), doc="One page of the day's prices of every security."),
    )
}  # fmt: skip


_DATE_PARAMS = frozenset({"business_date", "start_date", "end_date"})


def _wire_value(endpoint: str, param: Param, value: object) -> str:
    if param.name in _DATE_PARAMS:
        return _wire_date(endpoint, param, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if value < 0:
            raise NepseInputError(f"{endpoint}: {param.name} must not be negative, got {value}")
        return str(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return value
    raise NepseInputError(f"{endpoint}: {param.name} has an unusable value {value!r}")


def _wire_date(endpoint: str, param: Param, value: object) -> str:
    if isinstance(value, dt.datetime):  # the site wants the day; a datetime's isoformat would add the time
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError:
            pass
    raise NepseInputError(f"{endpoint}: {param.name} must be a date or 'YYYY-MM-DD', got {value!r}")


def prepare(name: str, params: Mapping[str, object]) -> PreparedCall:
    """Check ``params`` against the catalogue entry ``name`` and place them in the path and query."""
    endpoint = CATALOGUE.get(name)
    if endpoint is None:
        raise NepseInputError(f"unknown endpoint {name!r}; known: {', '.join(sorted(CATALOGUE))}")
    known = {p.name: p for p in endpoint.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        accepted = ", ".join(known) or "no arguments"
        raise NepseInputError(f"{name}: unexpected argument(s) {', '.join(unknown)}; it takes {accepted}")
    path_values: dict[str, str] = {}
    query = list(endpoint.fixed_query)
    for param in endpoint.params:
        value = params.get(param.name, param.default)
        if value is None:
            if param.required:
                raise NepseInputError(f"{name}: missing required argument {param.name}")
            continue
        wire = _wire_value(name, param, value)
        if param.kind == "path":
            path_values[param.wire] = wire
        else:
            query.append((param.wire, wire))
    return PreparedCall(endpoint, endpoint.path.format(**path_values), tuple(query))


@dataclasses.dataclass(frozen=True, slots=True)
class SessionMethod:
    """A session method: answered from one session's token state (a request only when the token is stale)."""

    name: str
    returns: Any
    doc: str


#: The session methods of the original ``nepseWorkerAPI`` design, under the names its users call. The client and
#: :class:`~nepse_ray.nepse.auth.TokenManager` answer them, a pool worker serves them from its client, and the
#: facade offers them like the catalogue's endpoints.
SESSION_METHODS: Mapping[str, SessionMethod] = {
    s.name: s
    for s in (
        SessionMethod("get_access_token", str, "A valid access token of the session (a secret: never log it)."),
        SessionMethod("get_salts", Salts, "The five salts that came with the session's token (secrets too)."),
        SessionMethod("get_market_id", int, "The id of today's market-open answer: the m term of every payload id."),
        SessionMethod("get_market_status", m.MarketOpen, "The market-open answer fetched with the session's token."),
        SessionMethod("get_post_payload_id", int, "The GENERAL payload id (index graphs) for the session's token."),
        SessionMethod("get_post_payload_id_for_floor_sheet", int,
                      "The FLOORSHEET payload id for the session's token."),
        SessionMethod("get_security_brief", list[m.SecurityBrief],
                      "Every non-delisted security (id, symbol, name), cached for an hour."),
        SessionMethod("get_security_symbol_id_map", dict[str, int],
                      "Symbol -> security id for every non-delisted security, cached with the brief."),
    )
}  # fmt: skip
