"""What other clients meet on the simulator's defaults, as on the site: limits that slow and cut off rather than
answer 429, the GET forms and directories clients call, the histories' window and page size, 404 and 405."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sim_session import BUSINESS_DATE, QUICK, SimSession, proved

from nepse_ray.sim import SimConfig, Simulator

MARKET_OPEN = "/api/nots/nepse-data/market-open"
NOTS = "/api/nots"


def test_the_defaults_model_the_site_not_the_strict_pool_limits() -> None:
    config = SimConfig()
    assert (config.require_referer, config.on_excess, config.burst, config.rate_limit) == (False, "site", 10, 2.0)
    assert not config.security_floorsheet_rows and not config.honour_index_dates


def test_sequential_calls_past_the_burst_are_answered_slowly_never_refused() -> None:
    with Simulator(**{**QUICK, "rate_limit": 4.0, "burst": 3, "rate_leeway": 0.0}) as sim:
        session = proved(sim)
        statuses = [session.get(MARKET_OPEN).status_code for _ in range(8)]
        stats = sim.stats()
    assert statuses == [200] * 8
    assert stats["rate_limit_violations"] > 0  # over the limit: held until their slot, counted, but served
    assert "429" not in stats["responses_by_status"]


def _blast(session: SimSession, path: str, count: int, **params: Any) -> list[int | str]:
    def one(_: int) -> int | str:
        try:
            response = session.get(path, **params)
        except requests.ConnectionError:
            return "dropped"
        return "empty" if response.json() == [] else response.status_code

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_a_token_driven_past_the_limit_is_cut_off_as_the_site_does() -> None:
    with Simulator(**{**QUICK, "rate_limit": 2.0, "burst": 1, "excess_hold": 1.0}) as sim:
        session = proved(sim)
        answers = _blast(session, MARKET_OPEN, 8)
        session.prove()
        pages = _blast(session, f"{NOTS}/index/history/58", 8)
    # One at once, two held (0.5 s and 1 s), the rest cut off: dropped connections, 200 [] for a page; never a 429.
    assert set(answers) == {200, "dropped"} and set(pages) == {200, "empty"}
    assert answers.count(200) <= 4 and pages.count(200) <= 4  # 3, give or take a request arriving late


def test_get_security_is_the_market_depth_header(session: SimSession, traded_id: int) -> None:
    body = session.get(f"{NOTS}/security/{traded_id}").json()
    posted = session.call("security_detail", security_id=traded_id).json()
    assert body["securityMcsData"] == posted["securityDailyTradeDto"]
    data = body["securityData"]
    assert (data["id"], data["symbol"]) == (traded_id, posted["security"]["symbol"])
    assert {"securityName", "activeStatus", "permittedToTrade", "email", "sector"} <= data.keys()


def test_security_price_is_the_history_with_more_columns(session: SimSession, traded_id: int) -> None:
    start = BUSINESS_DATE - dt.timedelta(days=30)
    price = session.get(f"{NOTS}/market/security/price/{traded_id}", size=500, startDate=start.isoformat()).json()
    history = session.call("security_price_history", security_id=traded_id, start_date=start).json()
    assert [r["businessDate"] for r in price["content"]] == [r["businessDate"] for r in history["content"]]
    row = price["content"][0]
    assert {"openPrice", "previousDayClosePrice", "fiftyTwoWeekHigh", "averageTradedPrice", "closePrice"} <= row.keys()


def test_the_directories(session: SimSession) -> None:
    everything = session.call("security_list", non_delisted=False).json()
    securities = session.get(f"{NOTS}/securities").json()
    assert sorted(s["securityId"] for s in securities) == sorted(s["id"] for s in everything)
    assert set(securities[0]) == {"securityId", "securityName", "securitySymbol"}
    indices = session.get(f"{NOTS}/index").json()
    assert sorted(i["id"] for i in indices) == list(range(51, 68))
    assert {i["indexCode"] for i in indices if i["keyIndexFlag"] == "Y"} == {
        "NEPSE",
        "SENSITIVE",
        "FLOAT",
        "SENSITIVEFLOAT",
    }


def test_dividends_name_the_fiscal_year_as_the_site_does(session: SimSession) -> None:
    companies = [c["id"] for c in session.call("company_list").json()[:40]]
    records = [r for cid in companies for r in session.get(f"{NOTS}/application/dividend/{cid}").json()]
    assert records
    notice = records[0]["companyNews"]["dividendsNotice"]
    assert notice["financialYear"]["fyName"] in {"2081/2082", "2080/2081", "2079/2080"}
    assert {"cashDividend", "bonusShare", "rightShare"} <= notice.keys()
    assert session.get(f"{NOTS}/application/dividend/1").status_code == 404


def test_market_summary_history_and_sectorwise_agree_with_the_days_summary(session: SimSession) -> None:
    summary = {item["detail"]: item["value"] for item in session.call("market_summary").json()}
    history = session.get(f"{NOTS}/market-summary-history").json()
    today = history[0]
    assert today["businessDate"] == BUSINESS_DATE.isoformat()
    assert (today["totalTurnover"], today["totalTransactions"]) == (
        summary["Total Turnover Rs:"],
        summary["Total Transactions"],
    )
    assert history[-1]["businessDate"] >= (BUSINESS_DATE - dt.timedelta(days=366)).isoformat()
    sectors = session.get(f"{NOTS}/sectorwise").json()
    assert round(sum(s["turnOverValues"] for s in sectors), 0) == round(summary["Total Turnover Rs:"], 0)
    assert session.get(f"{NOTS}/sectorwise", businessDate="2025-10-25").json() == []  # a Saturday


def test_market_cap_by_date(session: SimSession) -> None:
    rows = session.get(f"{NOTS}/nepse-data/marcapbydate/").json()
    assert rows[0]["businessDate"] == BUSINESS_DATE.isoformat() and len(rows) > 200
    (one,) = session.get(f"{NOTS}/nepse-data/marcapbydate/", date="2025/10/29").json()
    assert one["businessDate"] == "2025-10-29" and one["floatMarCap"] < one["marCap"]


def test_daily_price_graph_answers_get_and_signed_post_alike(session: SimSession, traded_id: int) -> None:
    got = session.get(f"{NOTS}/market/graphdata/{traded_id}")
    posted = session.call("daily_price_graph", security_id=traded_id)
    assert got.status_code == 200 and got.json() == posted.json() and got.json()


def test_index_history_is_the_last_year_in_pages_of_20_whatever_the_dates(session: SimSession) -> None:
    page = session.get(f"{NOTS}/index/history/58", startDate="2020-01-01", endDate="2024-12-31").json()
    assert page["size"] == 20 and len(page["content"]) == 20
    assert page["content"][0]["businessDate"] == BUSINESS_DATE.isoformat()
    last = session.get(f"{NOTS}/index/history/58", size=500).json()["content"][-1]["businessDate"]
    assert "2024-10-30" <= last < "2024-11-06"


def test_index_dates_are_honoured_as_an_option() -> None:
    with Simulator(**QUICK, honour_index_dates=True) as sim:
        page = proved(sim).get(f"{NOTS}/index/history/58", startDate="2025-09-01", endDate="2025-09-30").json()
    dates = [row["businessDate"] for row in page["content"]]
    assert dates and all("2025-09-01" <= d <= "2025-09-30" for d in dates)


def test_an_unknown_path_under_api_is_checked_first_then_answered_like_spring(sim: Simulator) -> None:
    anonymous = SimSession(sim)
    assert anonymous.get(f"{NOTS}/no-such-thing").status_code == 401
    missing = proved(sim).get(f"{NOTS}/no-such-thing")
    assert missing.status_code == 404
    assert {"timestamp", "status", "error", "path"} <= missing.json().keys()


def test_a_method_the_site_does_not_take_is_405_with_allow(session: SimSession) -> None:
    response = session.post(MARKET_OPEN, {})
    assert response.status_code == 405 and response.json()["status"] == 405
    assert response.headers["Allow"] == "GET"


def test_other_paths_are_the_single_page_app(sim: Simulator) -> None:
    page = requests.get(sim.base_url + "/company/detail/131", timeout=10)
    assert page.status_code == 200 and "<app-root>" in page.text


@pytest.fixture(scope="module")
def open_sim() -> Iterator[Simulator]:
    with Simulator(**QUICK, market_open=True) as simulator:
        yield simulator


def test_while_open_no_history_holds_today(open_sim: Simulator) -> None:
    session = proved(open_sim)
    traded = int(session.call("price_volume").json()[0]["securityId"])
    history = session.call("security_price_history", security_id=traded).json()["content"]
    index = session.get(f"{NOTS}/index/history/58").json()["content"]
    assert history[0]["businessDate"] < BUSINESS_DATE.isoformat()
    assert index[0]["businessDate"] < BUSINESS_DATE.isoformat()
