"""Chaos: a real floorsheet pull (``pull_floorsheet``, the direct path) while the simulator injects every fault it
knows, a worker is SIGKILLed every few seconds and the coordinator is SIGKILLed once, a third of the way in; the
rows must equal the simulator's ground truth exactly, and the pool's totals must count every page.

Not tuned to one seed: each run draws the simulator's seed, the fault rates (2-5 % each) and the kill intervals
(2-4 s) anew, and names the seed in every failure. The ground truth is the same day walked page by page with a
single-token client before any fault is switched on, turned into Arrow by the same reader as the pull's pages.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from nepse_ray.bench.resilience import CHAOS_FAULTS, ChaosKiller
from nepse_ray.nepse.client import NepseClient
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import PullLimits, pull_floorsheet
from nepse_ray.pulls.source import as_page
from nepse_ray.sim import Simulator

pytestmark = pytest.mark.ray

TRADES = 8_000  # 80 pages: long enough for two worker kills or more at one every 2-4 s
SIZE = 100
PAGES = TRADES // SIZE
WORKERS = 3


def ground_truth(sim: Simulator) -> list[dict[str, Any]]:
    """Every trade of the day, newest first, as the pull's rows."""
    with NepseClient(sim.base_url, rate=1000.0, burst=10) as client:
        bodies = [client.fetch("floorsheet", {"page": p, "size": SIZE}, lambda _, raw: raw.body) for p in range(PAGES)]
    table = pa.Table.from_batches([as_page("floorsheet", body).rows for body in bodies])
    rows: list[dict[str, Any]] = table.sort_by([("contract_id", "descending")]).to_pylist()
    return rows


def test_a_pull_under_faults_and_kills_returns_exactly_the_simulators_rows(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    seed = random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    sim = nepse_sim_factory(seed=seed, trades=TRADES, rate_limit=None, latency_ms=30.0)
    expected = ground_truth(sim)
    api = nepse_pool_factory(
        sim, min_workers=WORKERS, max_workers=WORKERS, rate_per_token=3.0, backoff_base=0.05, backoff_cap=0.5
    )
    first_life = {worker.worker_id for worker in api.get_stats().workers}
    sim.configure(**{fault: rng.uniform(0.02, 0.05) for fault in CHAOS_FAULTS})
    killer = ChaosKiller(api.options.pool_name, rng, coordinator_at=PAGES // 3, interval=(2.0, 4.0))

    killer.start()
    try:
        result = pull_floorsheet(api, limits=PullLimits(size=SIZE, window=4 * 2 * WORKERS), on_progress=killer.progress)
    finally:
        killer.stop.set()
        killer.join()

    seen = f"seed {seed}, kills {killer.kills}"
    assert result.complete and result.to_arrow().to_pylist() == expected, seen  # every trade once, as the site has it
    assert killer.kills.count("PoolCoordinator") == 1 and killer.kills.count("NepseWorker") >= 2, seen
    stats = api.get_stats()
    assert stats.total_tasks_completed >= PAGES, seen  # totals kept across the coordinator's restart
    assert first_life.isdisjoint(worker.worker_id for worker in stats.workers), seen  # no worker id given twice
    assert stats.worker_replacements <= killer.kills.count("NepseWorker"), seen  # no healthy worker taken for dead
    assert sum(sim.stats()["faults_injected"].values()) > 0, seen
