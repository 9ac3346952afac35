"""Coordinator scenarios: its memory and control-plane latency under a backlog, and interactive calls during a bulk
pull."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ray

from ..pool.api import NepseWorkerAPI
from .context import MB, BenchContext, coordinator_process, p50_p99, timed, warm
from .report import Goal, Value
from .scenario import Scenario


def _stats_latency(api: NepseWorkerAPI, calls: int = 200) -> tuple[float, float]:
    return p50_p99([timed(api.get_stats) for _ in range(calls)])


def _accepted(api: NepseWorkerAPI) -> int:
    stats = api.get_stats()
    return stats.pending_tasks + stats.total_tasks_completed + stats.total_errors


def control_plane(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Coordinator RSS at rest, with ``backlog`` bulk requests queued and after they drained; stats p99 meanwhile.

    While the simulator holds every request for a minute, the requests in the pool's slots time out after
    ``read_timeout`` (not retried), so the queue barely moves while it is measured, and drains within seconds
    once the simulator answers at once again.
    """
    backlog = p["backlog"]
    sim = context.simulator(p["trades"], rate_limit=None)
    api = context.pool(
        sim,
        min_workers=p["workers"],
        max_workers=p["workers"],
        rate_per_token=1000.0,
        max_queued=backlog + 1_000,
        max_retries=0,
        read_timeout=5.0,
    )
    try:
        process = coordinator_process(api)
        ray.get([api.remote.floorsheet(page=page, size=1) for page in range(20)])
        time.sleep(2.0)
        rest = process.memory_info().rss
        _, idle_p99 = _stats_latency(api)
        sim.configure(latency_ms=60_000.0)
        refs = [api.remote.floorsheet(page=page, size=1) for page in range(20, backlog + 20)]
        while _accepted(api) < backlog + 20:
            time.sleep(0.2)
        _, queued_p99 = _stats_latency(api)
        queued = process.memory_info().rss
        sim.configure(latency_ms=0.0)
        started = time.perf_counter()
        ray.wait(refs, num_returns=len(refs), fetch_local=False)
        drain = time.perf_counter() - started
        del refs
        time.sleep(3.0)  # a scaling tick or two: the coordinator hands the backlog's memory back
        after = process.memory_info().rss
    finally:
        api.shutdown(drain=False)
    return {
        "stats_p99_idle": Value(idle_p99 * 1e3, "ms"),
        "stats_p99_queued": Value(queued_p99 * 1e3, "ms"),
        "rss_rest": Value(rest / MB, "MiB"),
        "rss_queued": Value(queued / MB, "MiB"),
        "rss_after_drain": Value(after / MB, "MiB"),
        "per_queued_request": Value((queued - rest) / backlog / 1024, "KiB"),
        "drain_s": Value(drain, "s"),
    }


def interactive(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """``market_open()`` (not cached) every ``interval`` seconds while a bulk floorsheet backlog is served."""
    pages = p["pages"]
    sim = context.simulator(p["trades"])
    api = context.pool(sim, min_workers=5, max_workers=5, cache_ttl={"market_open": 0.0})
    samples = []
    try:
        warm(api, 5)
        sim.reset_stats()
        refs = [api.remote.floorsheet(page=page) for page in range(pages)]
        time.sleep(p["interval"])
        while len(ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)[0]) < pages - 20:
            samples.append(timed(api.market_open))
            time.sleep(p["interval"])
        ray.wait(refs, num_returns=len(refs), fetch_local=False)
    finally:
        api.shutdown(drain=False)
    return {
        "max_latency": Value(max(samples), "s"),
        "median_latency": Value(sorted(samples)[len(samples) // 2], "s"),
        "calls": Value(len(samples), ""),
        "violations": Value(sim.stats()["rate_limit_violations"], ""),
    }


SCENARIOS = (
    Scenario(
        "coordinator-backlog",
        "coordinator RSS at rest, with a bulk backlog queued and after its drain; get_stats() p99 while it waits",
        control_plane,
        full={"backlog": 10_000, "trades": 200_000, "workers": 5},
        quick={"backlog": 1_000, "trades": 30_000, "workers": 1},
        goals=(Goal("stats_p99_queued", "<=", 100.0, "stats p99 <= 100 ms with the backlog queued"),),
    ),
    Scenario(
        "interactive-during-pull",
        "market_open() (uncached) while a floorsheet backlog runs on 5 workers at 2 req/s per token",
        interactive,
        full={"pages": 400, "trades": 200_000, "interval": 2.0},
        quick={"pages": 40, "trades": 30_000, "interval": 1.0},
        goals=(
            Goal("max_latency", "<=", 1.5, "every call <= 1.5 s"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
)
