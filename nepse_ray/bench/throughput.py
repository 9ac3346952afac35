"""Throughput scenarios: a fixed pool at W workers against the 2 requests/s per-token limit, on a fast and a slow
site, and the speedup over one ``NepseClient`` reading the same pages one after another.

Steady-state rate = ``(N - W) / elapsed``: after the warm-up each token's first request is free (burst 1), so
``N`` requests take ``(N / W - 1) / 2`` seconds at the limit. The clock stops when every page has reached the
driver (before it unpickles them).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import ray

from ..nepse.client import NepseClient
from ..sim import SimulatorProcess
from .context import PAGE_ROWS, RATE_PER_TOKEN, BenchContext, timed, warm
from .report import Goal, Value
from .scenario import Scenario


def fixed_pool_rate(
    context: BenchContext, sim: SimulatorProcess, workers: int, pages_per_worker: int
) -> dict[str, float]:
    """Pages/s of a pool fixed at ``workers``, its share of the limit, the simulator's violations, the seconds."""
    api = context.pool(sim, min_workers=workers, max_workers=workers, max_retries=0)
    try:
        warm(api, workers)
        sim.reset_stats()
        count = workers * pages_per_worker
        pages = sim.config.trades // PAGE_ROWS
        refs = [api.remote.floorsheet(page=page % pages) for page in range(count)]
        elapsed = timed(lambda: ray.wait(refs, num_returns=count, fetch_local=True))
        violations = float(sim.stats()["rate_limit_violations"])
    finally:
        api.shutdown(drain=False)
    rate = (count - workers) / elapsed
    return {"seconds": elapsed, "rate": rate, "fraction": rate / (workers * RATE_PER_TOKEN), "violations": violations}


def _sweep(context: BenchContext, p: Mapping[str, Any], **site: Any) -> dict[str, Value]:
    sim = context.simulator(p["trades"], **site)
    values: dict[str, Value] = {}
    violations = 0.0
    for workers in p["workers"]:
        row = fixed_pool_rate(context, sim, workers, p["pages_per_worker"])
        values[f"fraction_w{workers}"] = Value(row["fraction"], "of W x 2 req/s")
        violations += row["violations"]
    values["violations"] = Value(violations, "")
    return values


def throughput(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    return _sweep(context, p)


def slow_site(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Latency drawn uniformly from ``latency_ms +- spread_ms`` (the simulator adds ``uniform(0, jitter)``).

    The simulator holds a request before its rate limiter sees it, like a slow network: arrivals a client spaced
    exactly ``1 / rate`` apart reach the limiter up to ``2 x spread_ms`` closer together. ``rate_leeway`` forgives
    that much arrival jitter, so the violations counted are the pool's own (at the default 0.25 s the spread of
    this latency alone is counted as violations, and each 429 costs its worker a Retry-After pause).
    """
    return _sweep(
        context,
        p,
        latency_ms=p["latency_ms"] - p["spread_ms"],
        jitter_ms=2 * p["spread_ms"],
        rate_leeway=p["rate_leeway"],
    )


def speedup(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """The same pages through a pool of 5 and through one client, one after another, in this run."""
    sim = context.simulator(p["trades"])
    count = p["pages"]
    api = context.pool(sim, min_workers=5, max_workers=5, max_retries=0)
    try:
        warm(api, 5)
        pool_seconds = timed(lambda: ray.get([api.remote.floorsheet(page=page) for page in range(count)]))
    finally:
        api.shutdown(drain=False)
    time.sleep(1.0 / RATE_PER_TOKEN)
    with NepseClient(sim.base_url) as client:
        client.market_open()  # the token proved, as the pool's were
        time.sleep(1.0 / RATE_PER_TOKEN)
        client_seconds = timed(lambda: [client.floorsheet(page=page) for page in range(count)])
    return {
        "speedup_w5": Value(client_seconds / pool_seconds, "x"),
        "pool_s": Value(pool_seconds, "s"),
        "client_s": Value(client_seconds, "s"),
    }


SCENARIOS = (
    Scenario(
        "throughput",
        "pool fixed at W workers, 2 req/s per token, burst 1: share of the W x 2 req/s limit, per-token violations",
        throughput,
        full={"workers": [1, 2, 3, 4, 5], "pages_per_worker": 24, "trades": 100_000},
        quick={"workers": [5], "pages_per_worker": 6, "trades": 30_000},
        goals=(
            Goal("fraction_w5", ">=", 0.95, ">= 0.95 of the limit at W = 5"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
    Scenario(
        "throughput-slow-site",
        "the same with the site answering in 300 ms +- 200 ms",
        slow_site,
        full={
            "workers": [1, 2, 3, 4, 5],
            "pages_per_worker": 24,
            "trades": 100_000,
            "latency_ms": 300.0,
            "spread_ms": 200.0,
            "rate_leeway": 0.45,
        },
        quick={
            "workers": [5],
            "pages_per_worker": 6,
            "trades": 30_000,
            "latency_ms": 300.0,
            "spread_ms": 200.0,
            "rate_leeway": 0.45,
        },
        goals=(
            Goal("fraction_w5", ">=", 0.95, ">= 0.95 of the limit at W = 5"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
    Scenario(
        "speedup",
        "the same floorsheet pages through a pool of 5 and through one NepseClient sequentially, in one run",
        speedup,
        full={"pages": 120, "trades": 100_000},
        quick={"pages": 12, "trades": 30_000},
        goals=(Goal("speedup_w5", ">=", 4.75, ">= 4.75x at W = 5"),),
    ),
)
