# mypy: disable-error-code="empty-body"
# The stubs below are signatures only (their bodies are `...`); RequestMethod makes the call.
"""Typed methods for the endpoint catalogue and the session methods, written once for every caller.

:class:`CatalogueMethods` has one method per :data:`~nepse_ray.nepse.endpoints.CATALOGUE` endpoint and
:class:`SessionMethods` one per :data:`~nepse_ray.nepse.endpoints.SESSION_METHODS` entry. Each is a stub whose
signature is the endpoint's parameters and whose return annotation is its response model; :class:`RequestMethod`
turns the stub into a method that binds the arguments (defaults applied) and hands ``(name, params)`` to the
owner's ``_request``. So :class:`~nepse_ray.nepse.client.NepseClient` and the pool facade
:class:`~nepse_ray.pool.api.NepseWorkerAPI` inherit the same typed surface and only say how a request is made.

The same table gives the ObjectRef form: on a class that also inherits :class:`ObjectRefForm` (the facade's
``api.remote``), the type checker sees every method return ``ray.ObjectRef`` of the model instead of the model,
through an overload of :meth:`RequestMethod.__get__` (Ray is imported for the type checker only: this module
runs without it).

>>> class Echo(CatalogueMethods):
...     def _request(self, name: str, params: dict[str, object]) -> object:
...         return name, params
>>> Echo().index_history(58, size=100)
('index_history', {'index_id': 58, 'page': 0, 'size': 100})
>>> Echo.floorsheet.__doc__
'One page of the market-wide floorsheet (trades, newest contract first).'
"""

from __future__ import annotations

import datetime as dt
import inspect
import types
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar, overload

from . import models as m
from .endpoints import CATALOGUE, SESSION_METHODS
from .tokens import Salts

if TYPE_CHECKING:
    from ray import ObjectRef

P = ParamSpec("P")
R = TypeVar("R")


class ObjectRefForm:
    """Marks a class whose table methods return ``ray.ObjectRef`` of the result (for the type checker)."""

    __slots__ = ()


class RequestMethod(Generic[P, R]):
    """A method made from a typed stub: it binds the call's arguments and calls ``owner._request(name, params)``.

    ``stub`` keeps the signature and the return type (read by the consistency test); the method's docstring is
    its table row's ``doc``, and ``help()`` shows the stub's signature.
    """

    def __init__(self, stub: Callable[Concatenate[Any, P], R], table: Mapping[str, Any]) -> None:
        self.name = stub.__name__
        self.stub = stub
        full = inspect.signature(stub)
        signature = full.replace(parameters=list(full.parameters.values())[1:])
        name = self.name

        def call(owner: Any, /, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return owner._request(name, bound.arguments)

        call.__name__ = call.__qualname__ = name
        call.__doc__ = table[name].doc
        call.__signature__ = full  # type: ignore[attr-defined]  # what help() and inspect show
        self._call = call

    @overload
    def __get__(self, owner: None, owner_type: type[Any]) -> Callable[Concatenate[Any, P], R]: ...
    @overload
    def __get__(self, owner: ObjectRefForm, owner_type: type[Any]) -> Callable[P, ObjectRef[R]]: ...
    @overload
    def __get__(self, owner: object, owner_type: type[Any]) -> Callable[P, R]: ...
    def __get__(self, owner: object, owner_type: type[Any]) -> Any:
        if owner is None:  # on the class: the plain function, as for any method
            return self._call
        return types.MethodType(self._call, owner)


def endpoint(stub: Callable[Concatenate[Any, P], R]) -> RequestMethod[P, R]:
    """A catalogue endpoint's method (the stub's name must be a catalogue row)."""
    return RequestMethod(stub, CATALOGUE)


def session(stub: Callable[Concatenate[Any, P], R]) -> RequestMethod[P, R]:
    """A session method (the stub's name must be a :data:`SESSION_METHODS` row)."""
    return RequestMethod(stub, SESSION_METHODS)


class CatalogueMethods:
    """One typed method per catalogue endpoint; a subclass says how a request is made in ``_request``."""

    def _request(self, name: str, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    @endpoint
    def market_open(self) -> m.MarketOpen: ...

    @endpoint
    def market_summary(self) -> list[m.SummaryItem]: ...

    @endpoint
    def disclosures(self) -> m.Disclosures: ...

    @endpoint
    def top_ten_trade(self) -> list[m.TopTrade]: ...

    @endpoint
    def top_ten_transaction(self) -> list[m.TopTransaction]: ...

    @endpoint
    def top_ten_turnover(self) -> list[m.TopTurnover]: ...

    @endpoint
    def top_gainers(self) -> list[m.TopMover]: ...

    @endpoint
    def top_losers(self) -> list[m.TopMover]: ...

    @endpoint
    def nepse_index(self) -> list[m.IndexValue]: ...

    @endpoint
    def sub_indices(self) -> list[m.IndexValue]: ...

    @endpoint
    def index_intraday_graph(self, index_id: int) -> list[m.IndexGraphPoint]: ...

    @endpoint
    def stock_intraday_graph(self, security_id: int) -> list[m.IntradayTick]: ...

    @endpoint
    def price_volume(self) -> list[m.TradeStat]: ...

    @endpoint
    def security_list(self, non_delisted: bool = True) -> list[m.SecurityBrief]: ...

    @endpoint
    def market_depth(self, security_id: int) -> m.MarketDepth: ...

    @endpoint
    def supply_demand(self) -> m.SupplyDemand: ...

    @endpoint
    def security_price_history(
        self,
        security_id: int,
        start_date: dt.date | str | None = None,
        end_date: dt.date | str | None = None,
        page: int = 0,
        size: int = 500,
    ) -> m.Page[m.PriceHistoryRow]: ...

    @endpoint
    def index_history(self, index_id: int, page: int = 0, size: int = 500) -> m.Page[m.IndexHistoryRow]: ...

    @endpoint
    def daily_price_graph(self, security_id: int) -> list[m.DailyPricePoint]: ...

    @endpoint
    def company_list(self) -> list[m.Company]: ...

    @endpoint
    def live_market(self) -> list[m.LiveMarketRow]: ...

    @endpoint
    def security_detail(self, security_id: int) -> m.SecurityDetail: ...

    @endpoint
    def floorsheet(
        self,
        page: int = 0,
        size: int = 500,
        business_date: dt.date | str | None = None,
        stock_id: int | None = None,
        buyer_broker: int | None = None,
        seller_broker: int | None = None,
    ) -> m.FloorsheetResponse: ...

    @endpoint
    def security_floorsheet(
        self, security_id: int, business_date: dt.date | str, page: int = 0, size: int = 500
    ) -> m.FloorsheetResponse: ...

    @endpoint
    def today_price(
        self, business_date: dt.date | str | None = None, page: int = 0, size: int = 500
    ) -> m.Page[m.TodayPriceRow]: ...


class SessionMethods:
    """One typed method per session method; a subclass says how a request is made in ``_request``."""

    def _request(self, name: str, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    @session
    def get_access_token(self) -> str: ...

    @session
    def get_salts(self) -> Salts: ...

    @session
    def get_market_id(self) -> int: ...

    @session
    def get_market_status(self) -> m.MarketOpen: ...

    @session
    def get_post_payload_id(self) -> int: ...

    @session
    def get_post_payload_id_for_floor_sheet(self) -> int: ...

    @session
    def get_security_brief(self) -> list[m.SecurityBrief]: ...

    @session
    def get_security_symbol_id_map(self) -> dict[str, int]: ...
