"""The endpoint catalogue: one table that says how to call every NEPSE endpoint nepse-ray supports.

Each :class:`Endpoint` names its HTTP method, path template, the Python-named parameters it takes (and the
query names they travel as), its payload variant if the body is signed, whether it is paged, and the pydantic
type its response validates into. :class:`CatalogueMethods` turns the table into one typed method per
endpoint; the single-token client and the pool facade both inherit it, so every caller sees the same surface.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any, Generic, Literal, TypeVar

from pydantic import TypeAdapter, ValidationError

from . import models as m
from .errors import NepseInputError, NepseInvalidResponseError
from .payload import VARIANT_BY_ENDPOINT, PayloadVariant

R = TypeVar("R")

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
                 doc="The 13 sector sub-indices."),
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


class CatalogueMethods(abc.ABC, Generic[R]):
    """One method per catalogue endpoint, all routed through :meth:`_call_endpoint`."""

    @abc.abstractmethod
    def _call_endpoint(self, name: str, params: dict[str, Any]) -> R: ...

    def market_open(self) -> R:
        return self._call_endpoint("market_open", {})

    def market_summary(self) -> R:
        return self._call_endpoint("market_summary", {})

    def disclosures(self) -> R:
        return self._call_endpoint("disclosures", {})

    def top_ten_trade(self) -> R:
        return self._call_endpoint("top_ten_trade", {})

    def top_ten_transaction(self) -> R:
        return self._call_endpoint("top_ten_transaction", {})

    def top_ten_turnover(self) -> R:
        return self._call_endpoint("top_ten_turnover", {})

    def top_gainers(self) -> R:
        return self._call_endpoint("top_gainers", {})

    def top_losers(self) -> R:
        return self._call_endpoint("top_losers", {})

    def nepse_index(self) -> R:
        return self._call_endpoint("nepse_index", {})

    def sub_indices(self) -> R:
        return self._call_endpoint("sub_indices", {})

    def index_intraday_graph(self, index_id: int) -> R:
        return self._call_endpoint("index_intraday_graph", {"index_id": index_id})

    def stock_intraday_graph(self, security_id: int) -> R:
        return self._call_endpoint("stock_intraday_graph", {"security_id": security_id})

    def price_volume(self) -> R:
        return self._call_endpoint("price_volume", {})

    def security_list(self, non_delisted: bool = True) -> R:
        return self._call_endpoint("security_list", {"non_delisted": non_delisted})

    def market_depth(self, security_id: int) -> R:
        return self._call_endpoint("market_depth", {"security_id": security_id})

    def supply_demand(self) -> R:
        return self._call_endpoint("supply_demand", {})

    def security_price_history(
        self,
        security_id: int,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
        page: int = 0,
        size: int = 500,
    ) -> R:
        return self._call_endpoint(
            "security_price_history",
            {"security_id": security_id, "start_date": start_date, "end_date": end_date, "page": page, "size": size},
        )

    def index_history(self, index_id: int, page: int = 0, size: int = 500) -> R:
        return self._call_endpoint("index_history", {"index_id": index_id, "page": page, "size": size})

    def daily_price_graph(self, security_id: int) -> R:
        return self._call_endpoint("daily_price_graph", {"security_id": security_id})

    def company_list(self) -> R:
        return self._call_endpoint("company_list", {})

    def live_market(self) -> R:
        return self._call_endpoint("live_market", {})

    def security_detail(self, security_id: int) -> R:
        return self._call_endpoint("security_detail", {"security_id": security_id})

    def floorsheet(
        self,
        page: int = 0,
        size: int = 500,
        business_date: dt.date | str | None = None,
        stock_id: int | None = None,
        buyer_broker: int | None = None,
        seller_broker: int | None = None,
    ) -> R:
        return self._call_endpoint(
            "floorsheet",
            {
                "page": page,
                "size": size,
                "business_date": business_date,
                "stock_id": stock_id,
                "buyer_broker": buyer_broker,
                "seller_broker": seller_broker,
            },
        )

    def security_floorsheet(self, security_id: int, business_date: dt.date | str, page: int = 0, size: int = 500) -> R:
        return self._call_endpoint(
            "security_floorsheet",
            {"security_id": security_id, "business_date": business_date, "page": page, "size": size},
        )

    def today_price(self, business_date: dt.date | str | None = None, page: int = 0, size: int = 500) -> R:
        return self._call_endpoint("today_price", {"business_date": business_date, "page": page, "size": size})
