"""nepse-data-api 1.0.0.4 (class attribute ``Nepse.BASE_URL``): requests, pywasm, proves once in its constructor,
local-clock day, short sleeps between pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from compat_walk import Call, Context, catalogue, check, content, get, rows
from sim_session import TruthSession

from nepse_ray.sim import Simulator

nepse_data_api = pytest.importorskip(
    "nepse_data_api", reason="nepse-data-api is in the compat extra: pip install -e '.[compat]'"
)


def since(x: Context) -> str:
    return (x.business_date - dt.timedelta(days=60)).isoformat()


def index_since(session: TruthSession, x: Context) -> Any:
    days = content(session.get("/api/nots/index/history/58", size=500).json())
    return [row for row in days if row["businessDate"] >= since(x)]


def stock_floorsheet(session: TruthSession, x: Context) -> Any:
    return rows(session.call("floorsheet", day=x.day, size=500, stock_id=x.security_id).json())


CALLS: dict[str, Call] = {
    "get_market_status": Call(lambda n, x: n.get_market_status(), catalogue("market_open")),
    "get_market_summary": Call(lambda n, x: n.get_market_summary(), catalogue("market_summary")),
    "get_top_gainers": Call(lambda n, x: n.get_top_gainers(), catalogue("top_gainers")),
    "get_top_losers": Call(lambda n, x: n.get_top_losers(), catalogue("top_losers")),
    "get_nepse_index": Call(lambda n, x: n.get_nepse_index(), catalogue("nepse_index")),
    "get_today_price": Call(lambda n, x: n.get_today_price(), catalogue("today_price", size=500), truth_view=content),
    "get_stocks": Call(lambda n, x: n.get_stocks(), catalogue("live_market")),
    "get_price_volume": Call(lambda n, x: n.get_price_volume(), catalogue("price_volume")),
    "get_sub_indices": Call(lambda n, x: n.get_sub_indices(), catalogue("sub_indices")),
    "get_top_turnover": Call(lambda n, x: n.get_top_turnover(), catalogue("top_ten_turnover")),
    "get_top_trade": Call(lambda n, x: n.get_top_trade(), catalogue("top_ten_trade")),
    "get_top_transaction": Call(lambda n, x: n.get_top_transaction(), catalogue("top_ten_transaction")),
    "get_marcapbydate": Call(lambda n, x: n.get_marcapbydate(), get("/api/nots/nepse-data/marcapbydate/")),
    "get_company_list": Call(lambda n, x: n.get_company_list(), catalogue("company_list")),
    "get_security_list": Call(lambda n, x: n.get_security_list(), catalogue("security_list")),
    "get_all_indices": Call(lambda n, x: n.get_all_indices(), get("/api/nots/index")),
    "get_index_history": Call(lambda n, x: n.get_index_history(58, start_date=since(x)), index_since),
    "get_security_details": Call(
        lambda n, x: n.get_security_details(x.security_id), catalogue("security_detail", security_id="{security_id}")
    ),
    "get_historical_chart": Call(
        lambda n, x: n.get_historical_chart(x.security_id), get("/api/nots/market/graphdata/{security_id}")
    ),
    "get_dividends": Call(
        lambda n, x: n.get_dividends(x.dividend_symbol), get("/api/nots/application/dividend/{dividend_id}")
    ),
    "get_market_depth": Call(
        lambda n, x: n.get_market_depth(x.symbol), catalogue("market_depth", security_id="{security_id}")
    ),
    "get_floorsheet": Call(lambda n, x: n.get_floorsheet(), catalogue("floorsheet", size=500), truth_view=rows),
    "get_floorsheet_of_symbol": Call(lambda n, x: n.get_floorsheet(symbol=x.symbol), stock_floorsheet),
}


@pytest.fixture(scope="module")
def client(site: Simulator) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nepse_data_api.Nepse, "BASE_URL", site.base_url)
        yield nepse_data_api.Nepse()


@pytest.mark.parametrize("name", list(CALLS))
def test_each_call_returns_the_simulators_truth(
    name: str, answers: dict[str, Any], truth: TruthSession, ctx: Context
) -> None:
    check(name, CALLS, answers, truth, ctx)
