"""Past trading days and a live floorsheet that grows while it is served, with the ground truth the sim reports."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from sim_session import BUSINESS_DATE, QUICK, SimSession, proved

from nepse_ray.sim import SimConfig, Simulator

WEDNESDAY, TUESDAY, MONDAY = (BUSINESS_DATE - dt.timedelta(days=n) for n in (1, 2, 3))
SATURDAY = dt.date(2025, 10, 25)


@pytest.fixture(scope="module")
def days_sim() -> Iterator[Simulator]:
    with Simulator(**{**QUICK, "trades": 1_200, "past_days": 2}) as sim:
        yield sim


def floorsheet(session: SimSession, day: dt.date | None, page: int = 0) -> dict[str, object]:
    body: dict[str, object] = session.call("floorsheet", page=page, business_date=day).json()
    return body


def test_past_trading_days_are_served_closed_with_their_own_trades(days_sim: Simulator) -> None:
    session = proved(days_sim)
    assert days_sim.stats()["served_days"] == [TUESDAY.isoformat(), WEDNESDAY.isoformat(), BUSINESS_DATE.isoformat()]
    for day in (TUESDAY, WEDNESDAY):
        page: dict[str, Any] = floorsheet(session, day)["floorsheets"]  # type: ignore[assignment]
        assert page["totalElements"] == 1_200
        rows = page["content"]
        assert {row["businessDate"] for row in rows} == {day.isoformat()}
        assert str(rows[0]["contractId"]).startswith(day.strftime("%Y%m%d"))
        assert rows[0]["buyerMemberId"] is not None  # a closed day shows its brokers
        prices = session.call("today_price", business_date=day).json()
        assert prices["totalElements"] > 0 and {r["businessDate"] for r in prices["content"]} == {day.isoformat()}
    today = floorsheet(session, None)["floorsheets"]["content"][0]  # type: ignore[index]
    yesterday = floorsheet(session, WEDNESDAY)["floorsheets"]["content"][0]  # type: ignore[index]
    assert today["contractId"] != yesterday["contractId"]


@pytest.mark.parametrize("day", [SATURDAY, MONDAY, BUSINESS_DATE + dt.timedelta(days=3)])
def test_a_day_not_served_answers_an_empty_page_like_the_site(days_sim: Simulator, day: dt.date) -> None:
    session = proved(days_sim)
    page: dict[str, Any] = floorsheet(session, day)["floorsheets"]  # type: ignore[assignment]
    assert (page["content"], page["totalElements"], page["totalPages"], page["empty"]) == ([], 0, 0, True)
    prices = session.call("today_price", business_date=day).json()
    assert (prices["content"], prices["totalElements"]) == ([], 0)


def test_price_history_reaches_back_over_any_range_within_the_last_year(days_sim: Simulator) -> None:
    session = proved(days_sim)
    security = session.call("security_list").json()[0]["id"]
    start, end = BUSINESS_DATE - dt.timedelta(days=300), BUSINESS_DATE - dt.timedelta(days=200)
    body = session.call("security_price_history", security_id=security, start_date=start, end_date=end).json()
    dates = [dt.date.fromisoformat(row["businessDate"]) for row in body["content"]]
    assert 60 < body["totalElements"] == len(dates) < 80  # Sun-Thu over 100 days
    assert min(dates) >= start and max(dates) <= end


def test_price_history_is_one_year_whatever_the_start_and_pages_cap_at_2000(days_sim: Simulator) -> None:
    """As the site: asked for five years in pages of 10,000, it gives the last year in pages of 2,000."""
    session = proved(days_sim)
    security = int(session.call("price_volume").json()[0]["securityId"])  # traded on the business day
    start = BUSINESS_DATE - dt.timedelta(days=5 * 365)
    body = session.call("security_price_history", security_id=security, start_date=start, size=10_000).json()
    dates = [dt.date.fromisoformat(row["businessDate"]) for row in body["content"]]
    assert body["size"] == 2_000 and body["totalElements"] == len(dates)
    assert min(dates) == dt.date(2024, 10, 30) and max(dates) == BUSINESS_DATE  # a Wednesday a year before
    old = session.call(
        "security_price_history", security_id=security, start_date=start, end_date=dt.date(2024, 10, 29)
    ).json()
    assert (old["content"], old["totalElements"]) == ([], 0)


def test_live_trades_arrive_on_top_and_the_total_grows_with_the_clock() -> None:
    with Simulator(**{**QUICK, "trades": 1_000, "market_open": True, "live_trades_per_s": 20.0}) as sim:
        session = proved(sim)
        first_id = sim.stats()["first_contract_id"]
        before: dict[str, Any] = floorsheet(session, None)["floorsheets"]  # type: ignore[assignment]
        sim.configure(clock_offset=30.0)  # 30 s later: about 600 more trades
        session.prove()
        after: dict[str, Any] = floorsheet(session, None)["floorsheets"]  # type: ignore[assignment]
        truth = sim.stats()["floorsheet_rows"]
    assert 1_000 <= before["totalElements"] < 1_100
    assert before["totalElements"] + 590 <= after["totalElements"] <= truth
    # Newest first: the top row is the newest trade, and the old top row slid down by the number of arrivals.
    assert before["content"][0]["contractId"] == first_id + before["totalElements"] - 1
    assert after["content"][0]["contractId"] == first_id + after["totalElements"] - 1
    assert after["content"][0]["buyerMemberId"] is None  # in session: brokers withheld


def test_live_mode_needs_an_open_market() -> None:
    with pytest.raises(ValidationError, match="market_open"):
        SimConfig(live_trades_per_s=5.0)
    assert SimConfig().live_capacity == 0 and SimConfig(market_open=True, live_trades_per_s=2.0).live_capacity > 0


def test_a_simulator_process_dies_with_a_parent_killed_by_sigkill(tmp_path: object) -> None:
    parent = textwrap.dedent(
        """
        import sys, time
        from nepse_ray.sim import SimulatorProcess
        sim = SimulatorProcess(trades=100)
        print(sim.pid, flush=True)
        time.sleep(600)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    child = int(process.stdout.readline())
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()
    for _ in range(300):
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
