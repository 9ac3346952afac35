"""Pull scenarios: a floorsheet day streamed to Parquet, growth with the day's size, every security's price history
against one token, a day's DataFrame memory, and where pages become tables (worker or driver)."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..nepse.client import NepseClient
from ..pool.api import NepseWorkerAPI
from ..pulls import PullResult, price_history, pull_floorsheet, securities
from ..pulls.engine import PullLimits
from ..pulls.market import floorsheet_series
from ..pulls.runner import pull_through
from ..pulls.source import PoolPageSource, default_window
from .context import MB, PAGE_ROWS, RATE_PER_TOKEN, BenchContext, driver_rss, reset_peak_rss, warm
from .report import Goal, Value
from .scenario import Scenario

HISTORY_TRADES = 5_000


def measured_pull(api: NepseWorkerAPI, out: Path) -> tuple[PullResult, float, float]:
    """A floorsheet pull through ``api``: its result, wall seconds and the driver's peak RSS over its idle level."""
    time.sleep(1.0)
    baseline, _ = driver_rss()
    reset_peak_rss()
    started = time.perf_counter()
    result = pull_floorsheet(api, out=out)
    elapsed = time.perf_counter() - started
    _, peak = driver_rss()
    return result, elapsed, (peak - baseline) / MB


def floorsheet_day(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    sim = context.simulator(p["pages"] * PAGE_ROWS)
    api = context.pool(sim, min_workers=1, max_workers=5)
    with tempfile.TemporaryDirectory(prefix="nrb-out-") as out_dir:
        try:
            result, elapsed, growth = measured_pull(api, Path(out_dir) / "day.parquet")
        finally:
            api.shutdown()
    return {
        "seconds": Value(elapsed, "s"),
        "driver_peak_over_idle": Value(growth, "MB"),
        "violations": Value(sim.stats()["rate_limit_violations"], ""),
        "complete": Value(float(result.complete), ""),
    }


def growth(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Days of each size streamed to Parquet by a pool fixed at W: seconds per extra page against ``1 / (W x R)``,
    and the driver's peak RSS.

    The slope between the smallest and the largest day is compared, so the fixed cost of a pull (page 0 first,
    the completeness check) does not count against it.
    """
    workers = p["workers"]
    values: dict[str, Value] = {}
    seconds, peaks = [], []
    for pages in p["pages"]:
        sim = context.simulator(pages * PAGE_ROWS)
        api = context.pool(sim, min_workers=workers, max_workers=workers)
        with tempfile.TemporaryDirectory(prefix="nrb-out-") as out_dir:
            try:
                warm(api, workers)
                _, elapsed, peak = measured_pull(api, Path(out_dir) / "day.parquet")
            finally:
                api.shutdown()
        seconds.append(elapsed)
        peaks.append(peak)
        values[f"s_{pages}p"] = Value(elapsed, "s")
        values[f"rss_{pages}p"] = Value(peak, "MB")
    slope = (seconds[-1] - seconds[0]) / (p["pages"][-1] - p["pages"][0])
    values["slope_over_ideal"] = Value(slope * workers * RATE_PER_TOKEN, "x")
    values["rss_spread"] = Value(max(peaks) - min(peaks), "MB")
    return values


def history(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """A year of daily history per security through a pool of 5, against one client reading a sample of it."""
    sim = context.simulator(HISTORY_TRADES)
    api = context.pool(sim, min_workers=p["workers"], max_workers=p["workers"])
    try:
        listed = securities(api).to_arrow()
        end = api.market_open().as_of.date()
        start = end - dt.timedelta(days=365)
        symbols = listed.column("symbol").to_pylist()[: p["securities"]]
        began = time.perf_counter()
        result = price_history(api, symbols, start=start, end=end)
        pool_seconds = time.perf_counter() - began
    finally:
        api.shutdown()
    ids = listed.column("id").to_pylist()[: p["single_pages"]]
    time.sleep(1.0 / RATE_PER_TOKEN)
    with NepseClient(sim.base_url) as client:
        client.market_open()
        began = time.perf_counter()
        for sid in ids:
            client.security_price_history(sid, start_date=start, end_date=end)
        single_rate = len(ids) / (time.perf_counter() - began)
    return {
        "securities": Value(result.listings, ""),
        "pages": Value(result.pages, ""),
        "pool_s": Value(pool_seconds, "s"),
        "one_token_projected_s": Value(result.pages / single_rate, "s"),
        "speedup": Value(result.pages / single_rate / pool_seconds, "x"),
    }


def _fast_pool(context: BenchContext, p: Mapping[str, Any]) -> NepseWorkerAPI:
    """A fixed pool against a day of ``trades`` with the site's limits off: pulls as fast as the machine allows."""
    sim = context.simulator(p["trades"], rate_limit=None)
    return context.pool(sim, min_workers=p["workers"], max_workers=p["workers"], rate_per_token=50.0)


def dataframe(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    api = _fast_pool(context, p)
    try:
        result = pull_floorsheet(api)
    finally:
        api.shutdown()
    frame = result.to_pandas()
    return {"rows": Value(len(frame), ""), "memory": Value(frame.memory_usage(deep=True).sum() / MB, "MB")}


def page_form(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """The same pull with pages converted in the worker (``arrow``) and on the driver (``raw``): driver CPU/page."""
    api = _fast_pool(context, p)
    values: dict[str, Value] = {}
    try:
        limits = PullLimits(window=default_window(api))
        for form in ("arrow", "raw", "arrow", "raw"):  # interleaved; the second of each is kept (warm)
            cpu, wall = time.process_time(), time.perf_counter()
            source = PoolPageSource(api, form=form)
            try:
                result = pull_through(source, [floorsheet_series(None)], limits=limits)
            finally:
                source.close()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            values[f"driver_cpu_{form}"] = Value(1000 * cpu / result.pages, "ms/page")
            values[f"pages_per_s_{form}"] = Value(result.pages / wall, "pages/s")
    finally:
        api.shutdown()
    return values


SCENARIOS = (
    Scenario(
        "floorsheet-day",
        "a floorsheet day streamed to Parquet, the pool scaling from 1 worker to 5 (2 req/s per token)",
        floorsheet_day,
        full={"pages": 400},
        quick={"pages": 40},
        goals=(
            Goal("seconds", "<=", 44.0, "400 pages <= 44 s (1.1 x 40 s)"),
            Goal("driver_peak_over_idle", "<=", 150.0, "driver peak RSS <= idle + 150 MB"),
            Goal("violations", "<=", 0, "0 rate violations"),
        ),
    ),
    Scenario(
        "growth",
        "floorsheet days of growing size streamed to Parquet, pool fixed at W = 5: seconds against pages / (W x R), "
        "driver peak RSS",
        growth,
        full={"pages": [50, 100, 200, 400], "workers": 5},
        quick={"pages": [10, 40], "workers": 5},
        goals=(
            Goal("slope_over_ideal", "<=", 1.15, "time follows pages / (W x R) (slope within 15 %)"),
            Goal("rss_spread", "<=", 50.0, "driver peak RSS flat (spread <= 50 MB)"),
        ),
    ),
    Scenario(
        "price-history",
        "a year of daily prices of every security, pool of 5, against one token reading a sample of the same pages",
        history,
        full={"securities": None, "single_pages": 30, "workers": 5},
        quick={"securities": 20, "single_pages": 4, "workers": 2},
    ),
    Scenario(
        "dataframe-memory",
        "deep memory of PullResult.to_pandas() for a day's trades",
        dataframe,
        full={"trades": 200_000, "workers": 5},
        quick={"trades": 30_000, "workers": 2},
    ),
    Scenario(
        "page-form",
        "driver CPU per page with pages converted in the worker (arrow) or on the driver (raw), limits off",
        page_form,
        full={"trades": 100_000, "workers": 5},
        quick={"trades": 30_000, "workers": 2},
    ),
)
