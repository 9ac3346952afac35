"""Control-plane scenarios: the coordinator's memory and stats latency under a backlog, a driver's control calls
after it made a backlog of its own (timed there and from a second driver), and interactive calls during a pull."""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ray

from ..local_ray import scoped_environ
from ..pool.api import NepseWorkerAPI
from ..pulls import pull_floorsheet
from .context import MB, PAGE_ROWS, BenchContext, coordinator_process, p50_p99, timed, warm
from .report import Goal, Value
from .scenario import Scenario
from .second_driver import SecondDriver


def _stats_latency(api: NepseWorkerAPI, calls: int = 200) -> tuple[float, float]:
    return p50_p99([timed(api.get_stats) for _ in range(calls)])


def _accepted(api: NepseWorkerAPI) -> int:
    stats = api.get_stats()
    return stats.pending_tasks + stats.total_tasks_completed + stats.total_errors


def control_plane(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Coordinator RSS at rest, with ``backlog`` bulk requests made and after they drained; stats p99 meanwhile.

    With ``whole`` the driver's window is raised so the whole backlog waits at the coordinator (as many drivers'
    windows would put it there); without, the default ``driver_window`` keeps all but that many in the driver.
    While the simulator holds every request for a minute, the requests in the pool's slots time out after
    ``read_timeout`` (not retried), so the queue barely moves while it is measured, and drains once the simulator
    answers at once again.
    """
    backlog = p["backlog"]
    sim = context.simulator(p["trades"], rate_limit=None)
    window = {"driver_window": backlog + 1_000} if p["whole"] else {}
    api = context.pool(
        sim,
        min_workers=p["workers"],
        max_workers=p["workers"],
        rate_per_token=1000.0,
        max_queued=backlog + 1_000,
        max_retries=0,
        read_timeout=5.0,
        **window,
    )
    try:
        process = coordinator_process(api)
        ray.get([api.remote.floorsheet(page=page, size=1) for page in range(20)])
        time.sleep(2.0)
        rest = process.memory_info().rss
        _, idle_p99 = _stats_latency(api)
        sim.configure(latency_ms=60_000.0)
        refs = [api.remote.floorsheet(page=page, size=1) for page in range(20, backlog + 20)]
        at_coordinator = min(backlog, api.options.driver_window)
        while _accepted(api) < at_coordinator + 20:
            time.sleep(0.2)
        _, queued_p99 = _stats_latency(api)
        queued = process.memory_info().rss
        sim.configure(latency_ms=0.0)
        started = time.perf_counter()
        ray.wait(refs, num_returns=len(refs), fetch_local=False)
        drain = time.perf_counter() - started
        del refs
        time.sleep(3.0)  # a scaling tick or two: the coordinator hands the backlog's memory back (pool/memory.py)
        after = process.memory_info().rss
    finally:
        api.shutdown(drain=False)
    return {
        "stats_p99_idle": Value(idle_p99 * 1e3, "ms"),
        "stats_p99_queued": Value(queued_p99 * 1e3, "ms"),
        "rss_rest": Value(rest / MB, "MiB"),
        "rss_queued": Value(queued / MB, "MiB"),
        "rss_after_drain": Value(after / MB, "MiB"),
        "rss_after_drain_over_rest": Value(after / rest, "x"),
        "per_queued_request": Value((queued - rest) / at_coordinator / 1024, "KiB"),
        "drain_s": Value(drain, "s"),
    }


def driver_backlog(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """``get_stats()`` from the driver that just made ``calls`` ``api.remote`` calls, ``after`` seconds later, and
    at the same moment from a second driver joined to the pool: the first call's seconds and the slowest's.

    The calls are distinct one-row floorsheet pages (nothing coalesced or cached) against a site at its limit, so
    the backlog stays queued while it is measured; ``max_queued`` is raised to accept all of them.
    """
    sim = context.simulator(p["trades"])
    api = context.pool(sim, min_workers=p["workers"], max_workers=p["workers"], max_queued=p["calls"] + 1_000)
    refs: list[Any] = []
    try:
        with SecondDriver(context.address, api, p["stats_calls"]) as other, ThreadPoolExecutor(1) as executor:
            started = time.perf_counter()
            refs += [api.remote.floorsheet(page=page, size=1) for page in range(p["calls"])]
            submitted = time.perf_counter() - started
            time.sleep(p["after"])
            theirs = executor.submit(other.time_stats)
            ours = [timed(api.get_stats) for _ in range(p["stats_calls"])]
            second = theirs.result()
    finally:
        api.shutdown(drain=False)
        # The backlog fails with PoolShutdownError: dropped unread, without Ray logging each one.
        with scoped_environ({"RAY_IGNORE_UNHANDLED_ERRORS": "1"}):
            ray.wait(refs, num_returns=len(refs), timeout=60, fetch_local=False)
            refs.clear()
    return {
        "submit_s": Value(submitted, "s"),
        "same_driver_first": Value(ours[0], "s"),
        "same_driver_max": Value(max(ours), "s"),
        "second_driver_first": Value(second[0], "s"),
        "second_driver_max": Value(max(second), "s"),
    }


def interactive(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """``market_open()`` (not cached) every ``interval`` seconds while ``pull_floorsheet`` pulls a day of ``pages``
    pages on the direct path, 5 workers at 2 req/s per token."""
    sim = context.simulator(p["pages"] * PAGE_ROWS)
    api = context.pool(sim, min_workers=5, max_workers=5, cache_ttl={"market_open": 0.0})
    samples = []
    try:
        warm(api, 5)
        sim.reset_stats()
        with ThreadPoolExecutor(1) as executor:
            pull = executor.submit(pull_floorsheet, api)
            time.sleep(p["interval"])
            while not pull.done():
                samples.append(timed(api.market_open))
                time.sleep(p["interval"])
            result = pull.result()
    finally:
        api.shutdown(drain=False)
    return {
        "max_latency": Value(max(samples), "s"),
        "median_latency": Value(sorted(samples)[len(samples) // 2], "s"),
        "calls": Value(len(samples), ""),
        "pull_complete": Value(float(result.complete), ""),
        "violations": Value(sim.stats()["rate_limit_violations"], ""),
    }


SCENARIOS = (
    Scenario(
        "coordinator-backlog",
        "coordinator RSS at rest, with a bulk backlog queued there and after its drain; get_stats() p99 while it waits",
        control_plane,
        full={"backlog": 10_000, "trades": 200_000, "workers": 5, "whole": True},
        quick={"backlog": 1_000, "trades": 30_000, "workers": 1, "whole": True},
        goals=(
            Goal("stats_p99_queued", "<=", 100.0, "stats p99 <= 100 ms with the backlog queued"),
            Goal("rss_after_drain_over_rest", "<=", 1.25, "RSS after the drain <= 1.25x its rest figure"),
        ),
    ),
    Scenario(
        "coordinator-backlog-window",
        "coordinator-backlog with the default driver_window: the driver keeps all but 1,000 of the backlog",
        control_plane,
        full={"backlog": 10_000, "trades": 200_000, "workers": 5, "whole": False},
        quick={"backlog": 2_000, "trades": 30_000, "workers": 1, "whole": False},
        goals=(Goal("rss_after_drain_over_rest", "<=", 1.25, "RSS after the drain <= 1.25x its rest figure"),),
    ),
    Scenario(
        "driver-backlog",
        "get_stats() 3 s after one driver made 20,000 api.remote calls: from that driver and from a second one",
        driver_backlog,
        full={"calls": 20_000, "trades": 100_000, "workers": 5, "after": 3.0, "stats_calls": 20},
        quick={"calls": 2_000, "trades": 30_000, "workers": 2, "after": 3.0, "stats_calls": 5},
        goals=(
            Goal("same_driver_max", "<=", 0.1, "every call <= 100 ms from the driver with the backlog"),
            Goal("second_driver_max", "<=", 0.1, "every call <= 100 ms from a second driver"),
        ),
    ),
    Scenario(
        "interactive-during-pull",
        "market_open() (uncached) while pull_floorsheet pulls a day on 5 workers at 2 req/s per token",
        interactive,
        full={"pages": 400, "interval": 2.0},
        quick={"pages": 60, "interval": 1.0},
        goals=(
            Goal("max_latency", "<=", 1.5, "every call <= 1.5 s"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
)
