"""nepseman-api 1.0.1 (``NepseClient(base_url=...)``, async): httpx, a bundled wasm, local-clock day, no pacing."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from compat_walk import Call, Context, catalogue, check, content, rows
from sim_session import TruthSession

from nepse_ray.sim import Simulator

nepseman_api = pytest.importorskip(
    "nepseman_api", reason="nepseman-api is in the compat extra (Python 3.11+): pip install -e '.[compat]'"
)


class Blocking:
    """The async client driven one call at a time on its own event loop, as a script would ``await`` it."""

    def __init__(self, base_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = nepseman_api.NepseClient(base_url=base_url)

    def __call__(self, call: Callable[[Any], Coroutine[Any, Any, Any]]) -> Any:
        return self.loop.run_until_complete(call(self.client))

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()


def a_year_to_today(x: Context) -> dict[str, Any]:
    return {"start_date": (x.today - dt.timedelta(days=365)).isoformat(), "end_date": x.today.isoformat()}


def floorsheet_of(session: TruthSession, x: Context) -> Any:
    page = rows(session.call("floorsheet", day=x.day, size=500, business_date=x.business_date).json())
    return [row for row in page if row["stockSymbol"] == x.symbol]


def history(session: TruthSession, x: Context) -> Any:
    return content(
        session.call("security_price_history", security_id=x.security_id, size=500, **a_year_to_today(x)).json()
    )


CALLS: dict[str, Call] = {
    "market_status": Call(lambda b, x: b(lambda c: c.market_status()), catalogue("market_open")),
    "market_summary": Call(lambda b, x: b(lambda c: c.market_summary()), catalogue("market_summary")),
    "supply_demand": Call(lambda b, x: b(lambda c: c.supply_demand()), catalogue("supply_demand")),
    "today_price": Call(
        lambda b, x: b(lambda c: c.today_price()), catalogue("today_price", size=500), truth_view=content
    ),
    "live_market": Call(lambda b, x: b(lambda c: c.live_market()), catalogue("live_market")),
    "price_volume": Call(lambda b, x: b(lambda c: c.price_volume()), catalogue("price_volume")),
    "price_history": Call(lambda b, x: b(lambda c: c.price_history(x.symbol)), history),
    "market_depth": Call(
        lambda b, x: b(lambda c: c.market_depth(x.symbol)), catalogue("market_depth", security_id="{security_id}")
    ),
    "top_gainers": Call(lambda b, x: b(lambda c: c.top_gainers()), catalogue("top_gainers")),
    "top_losers": Call(lambda b, x: b(lambda c: c.top_losers()), catalogue("top_losers")),
    "top_turnover": Call(lambda b, x: b(lambda c: c.top_turnover()), catalogue("top_ten_turnover")),
    "top_trade": Call(lambda b, x: b(lambda c: c.top_trade()), catalogue("top_ten_trade")),
    "top_transaction": Call(lambda b, x: b(lambda c: c.top_transaction()), catalogue("top_ten_transaction")),
    "nepse_index": Call(lambda b, x: b(lambda c: c.nepse_index()), catalogue("nepse_index")),
    "nepse_subindices": Call(lambda b, x: b(lambda c: c.nepse_subindices()), catalogue("sub_indices")),
    "index_graph": Call(
        lambda b, x: b(lambda c: c.index_graph("nepse")), catalogue("index_intraday_graph", index_id=58)
    ),
    "company_list": Call(lambda b, x: b(lambda c: c.company_list()), catalogue("company_list")),
    "security_list": Call(lambda b, x: b(lambda c: c.security_list()), catalogue("security_list")),
    "company_details": Call(
        lambda b, x: b(lambda c: c.company_details(x.symbol)), catalogue("security_detail", security_id="{security_id}")
    ),
    "daily_graph": Call(
        lambda b, x: b(lambda c: c.daily_graph(x.symbol)),
        catalogue("stock_intraday_graph", security_id="{security_id}"),
    ),
    "floor_sheet": Call(lambda b, x: b(lambda c: c.floor_sheet()), catalogue("floorsheet", size=500), truth_view=rows),
    "floor_sheet_of": Call(
        lambda b, x: b(lambda c: c.floor_sheet_of(x.symbol, business_date=x.business_date.isoformat())), floorsheet_of
    ),
}


@pytest.fixture(scope="module")
def client(site: Simulator) -> Iterator[Blocking]:
    blocking = Blocking(site.base_url)
    yield blocking
    blocking.close()


@pytest.mark.parametrize("name", list(CALLS))
def test_each_call_returns_the_simulators_truth(
    name: str, answers: dict[str, Any], truth: TruthSession, ctx: Context
) -> None:
    check(name, CALLS, answers, truth, ctx)
