"""Live streams on a pool (a local Ray cluster and the simulator's live market): three subscribers in two drivers
get every change exactly once, what the simulator served, from one poll per interval; a closed market gives no
tick; while a pull runs the polls keep to their share of a token's budget."""

from __future__ import annotations

import asyncio
import datetime as dt
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from stream_sources import served

from nepse_ray import NepseWorkerAPI, pull_floorsheet
from nepse_ray.sim import Simulator
from nepse_ray.stream import Tick

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]
SimFactory = Callable[..., Simulator]
DRIVER = Path(__file__).resolve().parents[1] / "stream_driver.py"
LIVE: dict[str, Any] = {"trades": 2_000, "market_open": True, "live_trades_per_s": 20.0, "rate_limit": None}


def replay(ticks: list[Tick]) -> dict[int, dict[Hashable, Any]]:
    """Each subscriber's view of the live market after each tick: its seq -> security id -> row."""
    state: dict[Hashable, Any] = {}
    states = {}
    for tick in ticks:
        if tick.snapshot:
            state = {}
        state = {**state, **{int(row["securityId"]): row for row in tick.rows}}
        for gone in tick.removed:
            state.pop(gone)
        states[tick.seq] = state
    return states


def test_three_subscribers_in_two_drivers_get_every_change_once_from_one_poll_per_interval(
    nepse_ray_cluster: dict[str, Any], nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = nepse_sim_factory(**LIVE)
    api = nepse_pool_factory(sim, max_workers=2)
    out = tmp_path / "other-driver.pickle"
    argv = [nepse_ray_cluster["gcs_address"], api.options.pool_name, api.options.namespace, sim.base_url,
            "live_market", "1", "8", str(out)]  # fmt: skip
    started = time.monotonic()
    other = subprocess.Popen([sys.executable, str(DRIVER), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    received: dict[str, list[Tick]] = {"sync": [], "async": []}

    def until_other_is_done(ticks: list[Tick], tick: Tick) -> bool:
        ticks.append(tick)
        if other.poll() is None or not out.exists():
            return False
        last: Tick = pickle.loads(out.read_bytes())[-1]
        return tick.seq >= last.seq

    def sync_subscriber() -> None:
        for tick in api.stream("live_market", 1.0):
            if until_other_is_done(received["sync"], tick):
                break

    async def async_subscriber() -> None:
        async for tick in api.stream("live_market", 1.0):
            if until_other_is_done(received["async"], tick):
                break

    threads = [
        threading.Thread(target=sync_subscriber),
        threading.Thread(target=asyncio.run, args=(async_subscriber(),)),
    ]
    for thread in threads:
        thread.start()
    _, errors = other.communicate(timeout=240)
    for thread in threads:
        thread.join(240)
    elapsed = time.monotonic() - started
    assert other.returncode == 0, errors.decode()[-2000:]
    received["other driver"] = pickle.loads(out.read_bytes())

    polls = sim.stats()["requests_per_endpoint"]["live_market"]
    views = {name: replay(ticks) for name, ticks in received.items()}
    for name, ticks in received.items():
        assert ticks[0].snapshot and not ticks[0].resync, name
        assert not any(t.snapshot for t in ticks[1:]), name
        assert [t.seq for t in ticks] == list(range(ticks[0].seq, ticks[0].seq + len(ticks))), name  # none twice
        assert len(ticks) >= 8, name
    last = {name: max(view) for name, view in views.items()}
    shared = set.intersection(*(set(view) for view in views.values()))
    assert len(shared) >= 4  # the three subscriptions overlapped for several polls
    for seq in shared:  # every subscriber saw the same market after each shared tick
        assert views["sync"][seq] == views["async"][seq] == views["other driver"][seq]
    changes: dict[int, list[Tick]] = {}
    for ticks in received.values():
        for tick in ticks[1:]:
            changes.setdefault(tick.seq, []).append(tick)
    assert all(copy == same[0] for same in changes.values() for copy in same)  # one tick, whoever received it
    final = views["sync"][last["sync"]]
    day = dt.date.fromisoformat(sim.stats()["business_date"])
    truth = served(sim.config, day, sum(row["totalTradeQuantity"] for row in final.values()))
    assert final == {int(row["securityId"]): row for row in truth}  # what the simulator served then, row for row
    assert polls <= elapsed / 1.0 + 2  # one poll per interval, not one per subscriber
    assert polls >= max(last.values())  # every tick came from a poll of its own


def test_a_closed_market_yields_no_tick_and_says_when_it_opens(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(trades=200, rate_limit=None)  # a closed day
    api = nepse_pool_factory(sim, max_workers=1)

    stream = api.stream("nepse_index", 1.0, until_close=True)
    ticks = list(stream)

    assert ticks == []
    assert stream.market is not None and stream.market.open is False and stream.polls == 0
    assert stream.market.opens_at is not None and stream.market.opens_at > dt.datetime.now(dt.timezone.utc)
    assert "nepse_index" not in sim.stats()["requests_per_endpoint"]


def test_while_a_pull_runs_the_polls_keep_to_their_share_of_a_tokens_budget(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: SimFactory
) -> None:
    sim = nepse_sim_factory(**{**LIVE, "trades": 16_000, "live_trades_per_s": 5.0})
    api = nepse_pool_factory(sim, min_workers=2, max_workers=2, rate_per_token=2.0, stream_share=0.05)
    stream = api.stream("live_market", 1.0)
    ticks = iter(stream)
    next(ticks)  # subscribed, polling every second
    sim.reset_stats()

    started = time.monotonic()
    day = pull_floorsheet(api)  # 32 pages at 2 x 2 requests/s: at least 7.5 s
    elapsed = time.monotonic() - started
    polls = sim.stats()["requests_per_endpoint"].get("live_market", 0)
    stream.close()

    assert day.complete and elapsed > 7
    assert 1 <= polls <= 0.05 * 2.0 * elapsed + 2  # 0.1 polls/s (a permit each), not one a second
