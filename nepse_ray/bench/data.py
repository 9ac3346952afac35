"""Ray Data scenario: a floorsheet day read as a ``ray.data.Dataset`` through a pool fixed at W, beside the same day
pulled with ``pull_floorsheet`` on the same pool, at the site's limits."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ..data import read_floorsheet
from ..pool.api import NepseWorkerAPI
from ..pulls import pull_floorsheet
from ..sim import SimulatorProcess
from .context import PAGE_ROWS, RATE_PER_TOKEN, BenchContext, warm
from .report import Goal, Value
from .scenario import Scenario


def ray_data_day(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Seconds for the day as a dataset (``ds.count()``, then every block), first in cold Ray Data worker processes,
    then again in warm ones; the same day as a pull; requests the count sent, whether every trade arrived once, and
    the simulator's rate violations in the two reads and in the pull."""
    workers, pages = p["workers"], p["pages"]
    sim = context.simulator(pages * PAGE_ROWS)
    api = context.pool(sim, min_workers=workers, max_workers=workers)
    try:
        warm(api, workers)
        cold, _, _ = _read_day(api, sim)  # Ray Data starts its worker processes: an interpreter and its imports each
        before_pull = _violations(sim)
        began = time.perf_counter()
        pulled = pull_floorsheet(api)
        pull_seconds = time.perf_counter() - began
        pull_violations = _violations(sim) - before_pull
        time.sleep(1.0 / RATE_PER_TOKEN)
        warm_read, ids, count_requests = _read_day(api, sim)
    finally:
        api.shutdown()
    violations = _violations(sim)
    limit = workers * RATE_PER_TOKEN
    return {
        "pull_fraction": Value(pulled.pages / pull_seconds / limit, "of W x 2 req/s"),
        "read_fraction": Value((pages - 1) / warm_read / limit, "of W x 2 req/s"),  # page 0: read by the plan
        "cold_read_fraction": Value((pages - 1) / cold / limit, "of W x 2 req/s"),
        "read_s": Value(warm_read, "s"),
        "cold_read_s": Value(cold, "s"),
        "count_requests": Value(count_requests, ""),
        "rows_once": Value(float(len(ids) == len(set(ids)) == pulled.rows), ""),
        "violations_reads": Value(violations - pull_violations, ""),
        "violations_pull": Value(pull_violations, ""),
    }


def _read_day(api: NepseWorkerAPI, sim: SimulatorProcess) -> tuple[float, list[int], int]:
    """Seconds to read every block of the current day (after its plan and ``count()``), its contract ids, and the
    floorsheet requests ``count()`` sent."""
    import ray

    day = read_floorsheet(api=api)
    asked = _floorsheet_requests(sim)
    day.count()
    count_requests = _floorsheet_requests(sim) - asked
    began = time.perf_counter()
    blocks = ray.get(day.to_arrow_refs())
    seconds = time.perf_counter() - began
    time.sleep(1.0 / RATE_PER_TOKEN)
    return (
        seconds,
        [contract for block in blocks for contract in block.column("contract_id").to_pylist()],
        count_requests,
    )


def _violations(sim: SimulatorProcess) -> int:
    violations: int = sim.stats()["rate_limit_violations"]
    return violations


def _floorsheet_requests(sim: SimulatorProcess) -> int:
    requests: int = sim.stats()["requests_per_endpoint"].get("floorsheet", 0)
    return requests


SCENARIOS = (
    Scenario(
        "ray-data",
        "a floorsheet day read as a ray.data.Dataset (count, then every block; in cold and in warm Ray Data worker "
        "processes) beside pull_floorsheet, pool fixed at W = 5, 2 req/s per token",
        ray_data_day,
        full={"pages": 400, "workers": 5},
        quick={"pages": 40, "workers": 2},
        goals=(
            Goal("read_fraction", ">=", 0.90, "the dataset's pages at >= 0.90 of the limit (warm processes)"),
            Goal("count_requests", "<=", 0, "ds.count() sends no request"),
            Goal("rows_once", ">=", 1, "every trade once"),
            Goal("violations_reads", "<=", 0, "0 rate violations"),
        ),
    ),
)
