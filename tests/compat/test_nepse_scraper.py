"""nepse-scraper 1.0.0 (module constant ``nepse_scraper.core.ROOT_URL``): requests with urllib3 retries, wasmtime,
proves once, local-clock day."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from compat_walk import Call, Context, catalogue, check, content, get
from sim_session import TruthSession

from nepse_ray.sim import Simulator

nepse_scraper = pytest.importorskip(
    "nepse_scraper", reason="nepse-scraper is in the compat extra: pip install -e '.[compat]'"
)

START, END = "{business_date:%Y-%m}-01", "{business_date}"


def is_open(body: Any) -> Any:
    return body["isOpen"] == "OPEN"


def dates(x: Context) -> tuple[str, str]:
    return START.format(business_date=x.business_date), END.format(business_date=x.business_date)


CALLS: dict[str, Call] = {
    "is_market_open": Call(lambda n, x: n.is_market_open(), catalogue("market_open"), truth_view=is_open),
    "get_today_price": Call(lambda n, x: n.get_today_price(), catalogue("today_price", size=500), truth_view=content),
    "top_gainer": Call(lambda n, x: n.get_top_stocks("top_gainer"), catalogue("top_gainers")),
    "top_loser": Call(lambda n, x: n.get_top_stocks("top_loser"), catalogue("top_losers")),
    "top_turnover": Call(lambda n, x: n.get_top_stocks("top_turnover"), catalogue("top_ten_turnover")),
    "top_trade": Call(lambda n, x: n.get_top_stocks("top_trade"), catalogue("top_ten_trade")),
    "top_transaction": Call(lambda n, x: n.get_top_stocks("top_transaction"), catalogue("top_ten_transaction")),
    "get_ticker_info": Call(
        lambda n, x: n.get_ticker_info(x.symbol), catalogue("security_detail", security_id="{security_id}")
    ),
    "get_indices_history": Call(
        lambda n, x: n.get_indices_history(58, *dates(x)),
        get("/api/nots/index/history/58", startDate=START, endDate=END),
    ),
    "get_sectorwise_summary": Call(lambda n, x: n.get_sectorwise_summary(), get("/api/nots/sectorwise")),
    "get_market_summary_history": Call(
        lambda n, x: n.get_market_summary_history(), get("/api/nots/market-summary-history")
    ),
    "get_market_summary": Call(lambda n, x: n.get_market_summary(), catalogue("market_summary")),
    "get_all_securities": Call(lambda n, x: n.get_all_securities(), catalogue("company_list")),
    "get_market_cap": Call(lambda n, x: n.get_market_cap(), get("/api/nots/nepse-data/marcapbydate/")),
    "get_sector_indices": Call(lambda n, x: n.get_sector_indices(), get("/api/nots/index")),
    "get_live_indices": Call(lambda n, x: n.get_live_indices(58), catalogue("index_intraday_graph", index_id=58)),
    "get_ticker_price_history": Call(
        lambda n, x: n.get_ticker_price_history(x.symbol, *dates(x)),
        get("/api/nots/market/security/price/{security_id}", startDate=START, endDate=END, page=0, size=500),
    ),
    "get_nepse_index": Call(lambda n, x: n.get_nepse_index(), catalogue("nepse_index")),
    "get_securities_list": Call(lambda n, x: n.get_securities_list(), get("/api/nots/securities")),
    "get_supply_demand": Call(lambda n, x: n.get_supply_demand(), catalogue("supply_demand")),
}


@pytest.fixture(scope="module")
def client(site: Simulator) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nepse_scraper.core, "ROOT_URL", site.base_url)
        yield nepse_scraper.NepseScraper()


@pytest.mark.parametrize("name", list(CALLS))
def test_each_call_returns_the_simulators_truth(
    name: str, answers: dict[str, Any], truth: TruthSession, ctx: Context
) -> None:
    check(name, CALLS, answers, truth, ctx)
