"""nepsepy 1.0.4 (``NepseClient(base_url=...)``): httpx, runs the served css.wasm, Nepal day, 0.4 s between calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from compat_walk import Call, Context, catalogue, check, get
from sim_session import TruthSession

from nepse_ray.sim import Simulator

nepsepy = pytest.importorskip("nepsepy", reason="nepsepy is in the compat extra: pip install -e '.[compat]'")

CALLS: dict[str, Call] = {
    "market_status": Call(lambda c, x: c.market_status(), catalogue("market_open")),
    "market_summary": Call(lambda c, x: c.market_summary(), catalogue("market_summary")),
    "market_summary_history": Call(lambda c, x: c.market_summary_history(), get("/api/nots/market-summary-history")),
    "ticker": Call(lambda c, x: c.ticker(), catalogue("price_volume")),
    "live_market": Call(lambda c, x: c.live_market(), catalogue("live_market")),
    "nepse_indices": Call(lambda c, x: c.nepse_indices(), catalogue("nepse_index")),
    "sub_indices": Call(lambda c, x: c.sub_indices(), catalogue("sub_indices")),
    "indices_list": Call(lambda c, x: c.indices_list(), get("/api/nots/index")),
    "index_history": Call(lambda c, x: c.index_history(58), get("/api/nots/index/history/58", size=20)),
    "sector_summary": Call(lambda c, x: c.sector_summary(), get("/api/nots/sectorwise")),
    "top_gainers": Call(lambda c, x: c.top_gainers(), catalogue("top_gainers")),
    "top_losers": Call(lambda c, x: c.top_losers(), catalogue("top_losers")),
    "top_turnover": Call(lambda c, x: c.top_turnover(), catalogue("top_ten_turnover")),
    "top_traded_shares": Call(lambda c, x: c.top_traded_shares(), catalogue("top_ten_trade")),
    "top_transactions": Call(lambda c, x: c.top_transactions(), catalogue("top_ten_transaction")),
    "supply_demand": Call(lambda c, x: c.supply_demand(), catalogue("supply_demand")),
    "securities": Call(lambda c, x: c.securities(), get("/api/nots/securities")),
    "companies": Call(lambda c, x: c.companies(), catalogue("security_list")),
    "companies_list": Call(lambda c, x: c.companies_list(), catalogue("company_list")),
    "market_depth": Call(
        lambda c, x: c.market_depth(x.security_id), catalogue("market_depth", security_id="{security_id}")
    ),
    "security_detail": Call(lambda c, x: c.security_detail(x.security_id), get("/api/nots/security/{security_id}")),
    "dividends": Call(lambda c, x: c.dividends(x.dividend_id), get("/api/nots/application/dividend/{dividend_id}")),
    "security_price_history": Call(
        lambda c, x: c.security_price_history(x.security_id),
        get("/api/nots/market/security/price/{security_id}", size=20),
    ),
    "stock_trading_history": Call(
        lambda c, x: c.stock_trading_history(x.security_id),
        catalogue("security_price_history", security_id="{security_id}", size=20),
    ),
    "market_cap_history": Call(lambda c, x: c.market_cap_history(), get("/api/nots/nepse-data/marcapbydate/")),
    "today_price": Call(lambda c, x: c.today_price(), catalogue("today_price", size=20)),
    "floorsheets": Call(lambda c, x: c.floorsheets(), catalogue("floorsheet", size=20)),
    "index_intraday": Call(lambda c, x: c.index_intraday(58), catalogue("index_intraday_graph", index_id=58)),
    "company_info": Call(
        lambda c, x: c.company_info(x.security_id), catalogue("security_detail", security_id="{security_id}")
    ),
    "company_graph": Call(
        lambda c, x: c.company_graph(x.security_id), catalogue("daily_price_graph", security_id="{security_id}")
    ),
    "company_graph_intraday": Call(
        lambda c, x: c.company_graph_intraday(x.security_id),
        catalogue("stock_intraday_graph", security_id="{security_id}"),
    ),
}


@pytest.fixture(scope="module")
def client(site: Simulator) -> Iterator[Any]:
    with nepsepy.NepseClient(base_url=site.base_url) as nepse:
        yield nepse


@pytest.mark.parametrize("name", list(CALLS))
def test_each_call_returns_the_simulators_truth(
    name: str, answers: dict[str, Any], truth: TruthSession, ctx: Context
) -> None:
    check(name, CALLS, answers, truth, ctx)


def test_the_per_company_floorsheet_is_refused_as_on_the_site(client: Any, ctx: Context) -> None:
    with pytest.raises(nepsepy.exceptions.AuthExpiredError, match="403"):
        client.security_floorsheet(ctx.security_id, business_date=ctx.business_date.isoformat())
