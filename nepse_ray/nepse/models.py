"""Pydantic models of NEPSE responses.

Tolerant by design: unknown fields are kept (``extra="allow"``), fields the site has been seen to leave out or
null are optional, and numeric strings (``securityId: "2790"``) are coerced. Attributes use Python names; the
site's camelCase names are the aliases, so ``Model.model_validate(json)`` reads a response and
``model.model_dump(by_alias=True)`` writes one.

Two habits of the site are undone here, so a value means what it says:

* The site writes ``0`` for a price that does not exist yet: the close while the market is open, a mover's ``cp``
  while open, the previous close of a security listed today. Those fields (:data:`ZeroMeansNone`) read ``0`` as
  ``None``; the Arrow tables make it null.
* The site sends times without a zone (``"2026-04-02 12:22:33.837549"``), in Nepal time. Every time field
  (:data:`NepalTime`) is a datetime zoned in Asia/Kathmandu, as the Arrow tables' timestamps are.

>>> TopMover.model_validate({"symbol": "NABIL", "securityId": 131, "ltp": 521.0, "cp": 0}).cp is None
True
>>> MarketOpen.model_validate({"isOpen": "OPEN", "asOf": "2026-04-02T12:22:25.7", "id": 80}).as_of.isoformat()
'2026-04-02T12:22:25.700000+05:45'
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

from .payload import NEPAL_TZ

RowT = TypeVar("RowT")


class ZeroMeansNoneMarker:
    """Marks a field whose ``0`` the site sends for "none yet" (read by :mod:`~nepse_ray.nepse.tables` too)."""

    __slots__ = ()


ZERO_MEANS_NONE = ZeroMeansNoneMarker()


def _none_if_zero(value: object) -> object:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value == 0:
        return None
    if isinstance(value, str) and value.strip() in ("0", "0.0", "0.00"):
        return None
    return value


def parse_nepal_time(value: object) -> object:
    """A time the site sends without a zone (``T`` or space separator, 0-9 fraction digits) as an aware datetime
    in Nepal time; other values pass through to pydantic, which names what is wrong with them."""
    if isinstance(value, str):
        text = value.strip().replace(" ", "T", 1)
        head, dot, fraction = text.partition(".")
        if dot and fraction.isdigit():
            text = f"{head}.{fraction[:6].ljust(6, '0')}"
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            return value
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=NEPAL_TZ)
    return value


#: A price the site writes as ``0`` when there is none yet: read as ``None``.
ZeroMeansNone = Annotated[float | None, BeforeValidator(_none_if_zero), ZERO_MEANS_NONE]
#: A time the site sends without a zone: an aware datetime in Asia/Kathmandu.
NepalTime = Annotated[dt.datetime, BeforeValidator(parse_nepal_time)]


class NepseModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel, frozen=False)


#: Marks a prove field as a secret: read as an attribute, never shown in a repr, str or dump.
_HIDDEN = Field(exclude=True, repr=False)


class ProveResponse(NepseModel):
    """``GET /api/authenticate/prove``. The tokens here are still obfuscated.

    Tokens and salts are secrets: every repr, str and dump (``model_dump``, ``model_dump_json``, rich's pretty
    repr) leaves them out, while ``prove.access_token`` and :attr:`salts` still read them. Fields the site may add
    are dropped rather than kept (they could be secrets too), and validation errors never quote the input.
    """

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    access_token: Annotated[str, _HIDDEN]
    refresh_token: Annotated[str, _HIDDEN]
    salt: Annotated[str | None, _HIDDEN] = None
    salt1: Annotated[int, _HIDDEN]
    salt2: Annotated[int, _HIDDEN]
    salt3: Annotated[int, _HIDDEN]
    salt4: Annotated[int, _HIDDEN]
    salt5: Annotated[int, _HIDDEN]
    server_time: int
    token_type: str | None = None
    is_display_active: bool | None = None
    popup_doc_for: str | None = None

    @property
    def salts(self) -> tuple[int, int, int, int, int]:
        return (self.salt1, self.salt2, self.salt3, self.salt4, self.salt5)


class MarketOpen(NepseModel):
    """``nepse-data/market-open``: ``id`` is the market id that feeds every payload id.

    ``as_of`` is the site's latest session moment in Nepal time: the close (15:00) of the last trading day when
    closed (``"2025-10-30T15:00:00"``), the moment of the answer while open (``"2026-04-02T12:22:25.746796"``).
    """

    is_open: str
    as_of: NepalTime
    id: int


class Page(NepseModel, Generic[RowT]):
    """A Spring Data page."""

    content: list[RowT]
    total_pages: int
    total_elements: int
    size: int | None = None
    number: int = 0
    number_of_elements: int | None = None
    first: bool | None = None
    last: bool | None = None
    empty: bool | None = None


class SummaryItem(NepseModel):
    detail: str
    value: float


class IndexValue(NepseModel):
    """An element of ``nepse-index`` (ids 57, 58, 62, 63) or of the sub-index list ``/api/nots``.

    Read the fields as the site means them (checked on 433 captured index objects, 2025-2026): **``close`` is the
    previous session's close**, ``current_value`` is today's value (live while open, today's close after), and
    ``change == current_value - close``. ``previous_close`` holds the previous close (more decimals) until the
    evening update, and today's close after it. Sub-index elements carry only ``id``, ``index``, ``change``,
    ``per_change`` and ``current_value``; ``generated_time`` is null before the day's first value.
    """

    id: int
    index: str
    close: float | None = Field(default=None, description="the previous session's close (not today's)")
    high: float | None = Field(default=None, description="today's high")
    low: float | None = Field(default=None, description="today's low")
    previous_close: float | None = Field(
        default=None, description="the previous session's close until the evening update, today's close after it"
    )
    change: float | None = Field(default=None, description="current_value - close")
    per_change: float | None = Field(default=None, description="change as a percentage of close")
    fifty_two_week_high: float | None = None
    fifty_two_week_low: float | None = None
    current_value: float | None = Field(default=None, description="today's value: live while open, the close after")
    generated_time: NepalTime | None = None


class TradeStat(NepseModel):
    """``securityDailyTradeStat/58`` (price-volume)."""

    security_id: int
    symbol: str
    security_name: str | None = None
    index_id: int | None = None
    total_trade_quantity: int | None = None
    last_traded_price: float | None = None
    percentage_change: float | None = None
    previous_close: ZeroMeansNone = Field(
        default=None, description="the previous session's close; none for a security's first day"
    )
    close_price: ZeroMeansNone = Field(default=None, description="today's close; none while the market is open")


class LiveMarketRow(NepseModel):
    security_id: int
    symbol: str
    security_name: str | None = None
    index_id: int | None = None
    open_price: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    total_trade_quantity: int | None = None
    total_trade_value: float | None = None
    last_traded_price: float | None = None
    percentage_change: float | None = None
    last_traded_volume: int | None = None
    previous_close: ZeroMeansNone = Field(
        default=None, description="the previous session's close; none for a security's first day"
    )
    average_traded_price: float | None = None
    last_updated_date_time: NepalTime | None = None


class TopMover(NepseModel):
    """top-gainer / top-loser rows: ``ltp`` the last traded price, ``cp`` the closing price (None while open)."""

    symbol: str
    security_id: int
    security_name: str | None = None
    ltp: float | None = Field(default=None, description="the last traded price")
    cp: ZeroMeansNone = Field(default=None, description="today's closing price; none while the market is open")
    point_change: float | None = None
    percentage_change: float | None = None


class TopTrade(NepseModel):
    symbol: str
    security_id: int
    security_name: str | None = None
    share_traded: int | None = None
    closing_price: float | None = None


class TopTransaction(NepseModel):
    symbol: str
    security_id: int
    security_name: str | None = None
    total_trades: int | None = None
    last_traded_price: float | None = None


class TopTurnover(NepseModel):
    symbol: str
    security_id: int
    security_name: str | None = None
    turnover: float | None = None
    closing_price: float | None = None


class SupplyDemandItem(NepseModel):
    symbol: str
    security_id: int
    security_name: str | None = None
    total_quantity: int | None = None
    total_order: int | None = None


class SupplyDemand(NepseModel):
    supply_list: list[SupplyDemandItem] = Field(default_factory=list)
    demand_list: list[SupplyDemandItem] = Field(default_factory=list)


class Company(NepseModel):
    id: int
    symbol: str
    company_name: str | None = None
    security_name: str | None = None
    status: str | None = None
    company_email: str | None = None
    website: str | None = None
    sector_name: str | None = None
    regulatory_body: str | None = None
    instrument_type: str | None = None


class SecurityBrief(NepseModel):
    """``security?nonDelisted=true``: ``id`` is the securityId every per-security endpoint takes."""

    id: int
    symbol: str
    security_name: str | None = None
    name: str | None = None
    active_status: str | None = None


class DepthLevel(NepseModel):
    stock_id: int | None = None
    order_book_order_price: float
    quantity: int
    order_count: int | None = None
    is_buy: int | None = None
    buy: bool | None = None
    sell: bool | None = None


class DepthBook(NepseModel):
    buy_market_depth_list: list[DepthLevel] = Field(default_factory=list)
    sell_market_depth_list: list[DepthLevel] = Field(default_factory=list)


class MarketDepth(NepseModel):
    total_buy_qty: int | None = None
    total_sell_qty: int | None = None
    market_depth: DepthBook = Field(default_factory=DepthBook)
    symbol: str | None = None
    time_stamp: int | None = None


class PriceHistoryRow(NepseModel):
    """``market/history/security/{id}`` rows."""

    business_date: dt.date
    total_trades: int | None = None
    total_traded_quantity: int | None = None
    total_traded_value: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    close_price: float | None = None


class IndexHistoryRow(NepseModel):
    """``index/history/{id}`` rows, newest first."""

    business_date: dt.date
    id: int | None = None
    exchange_index_id: int | None = None
    closing_index: float | None = None
    open_index: float | None = None
    high_index: float | None = None
    low_index: float | None = None
    fifty_two_week_high: float | None = None
    fifty_two_week_low: float | None = None
    turnover_value: float | None = None
    turnover_volume: float | None = None
    total_transaction: int | None = None
    abs_change: float | None = None
    percentage_change: float | None = None


class DailyPricePoint(NepseModel):
    """``market/graphdata/{id}``: one day of OHLC."""

    business_date: dt.date
    open_price: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    close_price: float | None = None
    previous_day_close_price: ZeroMeansNone = Field(default=None, description="none for a security's first day")
    fifty_two_week_high: float | None = None
    last_traded_price: float | None = None
    total_traded_quantity: int | None = None


class IntradayTick(NepseModel):
    """``market/graphdata/daily/{id}``: one trade of the day's scrip graph."""

    contract_quantity: int | None = None
    contract_rate: float
    time: int


class SecurityDailyTrade(NepseModel):
    security_id: int
    business_date: dt.date | None = None
    open_price: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    total_trade_quantity: int | None = None
    total_trades: int | None = None
    last_traded_price: float | None = None
    previous_close: ZeroMeansNone = Field(
        default=None, description="the previous session's close; none for a security's first day"
    )
    close_price: ZeroMeansNone = Field(default=None, description="today's close; none while the market is open")
    fifty_two_week_high: float | None = None
    fifty_two_week_low: float | None = None
    last_updated_date_time: NepalTime | None = None


class SecurityDetail(NepseModel):
    """``POST security/{id}``. The nested ``security`` object is kept as the site sends it."""

    security_daily_trade_dto: SecurityDailyTrade | None = None
    security: dict[str, object] | None = None
    security_id: int | None = None
    stock_listed_shares: float | None = None
    paid_up_capital: float | None = None
    issued_capital: float | None = None
    market_capitalization: float | None = None
    public_shares: float | None = None
    public_percentage: float | None = None
    promoter_shares: float | None = None
    promoter_percentage: float | None = None
    updated_date: str | None = None


class FloorsheetRow(NepseModel):
    """One trade. Broker ids are strings, and null while the market is open."""

    contract_id: int
    stock_symbol: str
    buyer_member_id: str | None = None
    seller_member_id: str | None = None
    contract_quantity: int
    contract_rate: float
    contract_amount: float | None = None
    business_date: dt.date
    trade_book_id: int | None = None
    stock_id: int
    buyer_broker_name: str | None = None
    seller_broker_name: str | None = None
    trade_time: NepalTime | None = None
    security_name: str | None = None


class FloorsheetResponse(NepseModel):
    """The floorsheet wrapper ``{floorsheets: Page<row>, ...}``."""

    floorsheets: Page[FloorsheetRow]
    total_amount: float | None = None
    total_qty: float | None = None
    total_trades: int | None = None


class TodayPriceRow(NepseModel):
    """``nepse-data/today-price`` rows: one security's day."""

    business_date: dt.date
    security_id: int
    symbol: str
    security_name: str | None = None
    open_price: float | None = None
    high_price: float | None = None
    low_price: float | None = None
    close_price: ZeroMeansNone = Field(default=None, description="the day's close; none while the market is open")
    total_traded_quantity: int | None = None
    total_traded_value: float | None = None
    previous_day_close_price: ZeroMeansNone = Field(
        default=None, description="the previous session's close; none for a security's first day"
    )
    fifty_two_week_high: ZeroMeansNone = Field(default=None, description="none for a security's first day")
    fifty_two_week_low: ZeroMeansNone = Field(default=None, description="none for a security's first day")
    last_updated_time: NepalTime | None = None
    last_updated_price: float | None = None
    total_trades: int | None = None
    average_traded_price: float | None = None
    market_capitalization: float | None = None


class Disclosures(NepseModel):
    """``news/companies/disclosure``."""

    exchange_messages: list[dict[str, object]] = Field(default_factory=list)
    company_news: list[dict[str, object]] = Field(default_factory=list)


#: ``graph/index/{id}``: ``[[epochSeconds, value], ...]``.
IndexGraphPoint = tuple[int, float]
