"""A live simulator's market table and indices move with the trades that arrive, and ``/_sim/stats`` reports the
truth they show: every row is the aggregate of that security's trades on the floorsheet, nothing else."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from sim_session import QUICK, SimSession, proved

from nepse_ray.sim import Simulator

#: Slow arrivals, moved on by the clock offset: a test reads the simulator between two arrivals.
LIVE: dict[str, Any] = {**QUICK, "trades": 600, "market_open": True, "live_trades_per_s": 0.2}


@pytest.fixture
def live_sim() -> Iterator[Simulator]:
    with Simulator(**LIVE) as sim:
        yield sim


def steady(sim: Simulator, session: SimSession, name: str, **params: Any) -> tuple[Any, dict[str, Any]]:
    """The answer of ``name`` and the simulator's stats, taken while no trade arrived in between."""
    for _ in range(5):
        before = sim.stats()["floorsheet_rows"]
        answer = session.call(name, **params).json()
        stats = sim.stats()
        if stats["floorsheet_rows"] == before:
            return answer, stats
    raise AssertionError("trades kept arriving between two reads")


def trades(session: SimSession) -> list[dict[str, Any]]:
    """Every trade on the floorsheet now, oldest first."""
    rows: list[dict[str, Any]] = []
    page, pages = 0, 1
    while page < pages:
        body = session.call("floorsheet", page=page, size=500).json()["floorsheets"]
        rows += body["content"]
        page, pages = page + 1, body["totalPages"]
    return sorted(rows, key=lambda row: row["contractId"])


def test_each_live_market_row_is_the_aggregate_of_its_securitys_trades_so_far(live_sim: Simulator) -> None:
    session = proved(live_sim)
    live_sim.configure(clock_offset=2_000.0)  # 400 trades arrive at once
    session.prove()  # the token expired meanwhile

    table, stats = steady(live_sim, session, "live_market")
    day = trades(session)[: stats["floorsheet_rows"]]

    by_security: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for trade in day:
        by_security[trade["stockId"]].append(trade)
    assert stats["floorsheet_rows"] >= 1_000 and stats["live"]["trades"] == stats["floorsheet_rows"]
    assert sorted(int(row["securityId"]) for row in table) == sorted(by_security)
    for row in table:
        own = by_security[int(row["securityId"])]
        rates = [trade["contractRate"] for trade in own]
        assert row["totalTradeQuantity"] == sum(trade["contractQuantity"] for trade in own)
        assert row["totalTradeValue"] == pytest.approx(sum(t["contractQuantity"] * t["contractRate"] for t in own))
        assert (row["openPrice"], row["lastTradedPrice"]) == (rates[0], rates[-1])
        assert (row["highPrice"], row["lowPrice"]) == (max(rates), min(rates))
        assert row["lastTradedVolume"] == own[-1]["contractQuantity"]
    assert stats["live"]["securities_traded"] == len(table)
    assert stats["live"]["turnover"] == pytest.approx(sum(row["totalTradeValue"] for row in table))


def test_the_indices_move_with_the_trades_and_report_what_the_stats_say(live_sim: Simulator) -> None:
    session = proved(live_sim)
    indices, stats = steady(live_sim, session, "nepse_index")
    points = session.call("index_intraday_graph", index_id=58).json()

    live_sim.configure(clock_offset=1_500.0)
    session.prove()
    later, later_stats = steady(live_sim, session, "nepse_index")
    subs = session.call("sub_indices").json()
    later_points = session.call("index_intraday_graph", index_id=58).json()

    nepse = {row["id"]: row for row in indices}[58]
    moved = {row["id"]: row for row in later}[58]
    assert nepse["currentValue"] == stats["live"]["nepse_index"]
    assert moved["currentValue"] == later_stats["live"]["nepse_index"] != nepse["currentValue"]
    assert moved["high"] >= max(moved["currentValue"], nepse["high"]) and moved["low"] <= moved["currentValue"]
    assert len(subs) == 13 and all(row["id"] not in (57, 58, 62, 63) for row in subs)
    assert len(later_points) > len(points) and later_points[: len(points)] == points  # points are only added
    assert [t for t, _ in later_points] == list(range(later_points[0][0], later_points[-1][0] + 1, 30))


def test_a_simulator_that_is_not_live_serves_its_day_unchanged_and_reports_no_live_truth() -> None:
    with Simulator(**{**QUICK, "trades": 600}) as sim:
        session = proved(sim)
        first = session.call("live_market").content
        sim.configure(clock_offset=2_000.0)
        session.prove()
        assert session.call("live_market").content == first
        assert "live" not in sim.stats()
