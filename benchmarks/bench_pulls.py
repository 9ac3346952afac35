"""Benchmark of the pulls: a 400-page floorsheet streamed to Parquet, every security's price history, DataFrame
memory, and where pages become tables (worker ``form="arrow"`` or driver ``form="raw"``).

Run ``python benchmarks/bench_pulls.py [--trades 200000] [--single-pages 30]``. It starts its own local Ray
instance on 127.0.0.1 (no dashboard) and the simulator in a subprocess (2 requests/s per token, burst 1), then:

1. **Floorsheet day.** ``pull_floorsheet(api, out=...parquet)`` of a 400-page day (200,000 trades) with the pool
   scaling from 1 to 5 workers. Wall time (goal <= 1.1 x 40 s = 44 s) and the driver's peak RSS over its idle
   baseline with the pool up (goal <= +150 MB; the kernel's peak counter is reset just before the pull).
2. **Price history of every security** for one year through the pool (5 workers) against one ``NepseClient``
   reading a sample of the same pages (``--single-pages``), projected to the whole job.
3. **DataFrame memory** of the day's 200,000 trades (``PullResult.to_pandas()``, deep).
4. **Page form.** The same 100-page pull with the simulator's limits off, once with pages converted in the
   worker (``arrow``) and once on the driver (``raw``): the driver's CPU seconds per page and its peak RSS.

Timing goals live here, not in the tests. The machine is shared: expect +-30 % between runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import bench_pool  # noqa: F401  (sets Ray's environment defaults before Ray is imported)
import ray

from nepse_ray.nepse.client import NepseClient
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import price_history, pull_floorsheet, securities
from nepse_ray.pulls.engine import PullLimits
from nepse_ray.pulls.market import floorsheet_series
from nepse_ray.pulls.runner import pull_through
from nepse_ray.pulls.source import PoolPageSource, default_window
from nepse_ray.sim import SimulatorProcess

MB = 1024 * 1024


def rss() -> tuple[int, int]:
    """(current, peak) resident set size of this process in bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: the peak RSS counter starts again from now


def floorsheet_day(trades: int, out_dir: Path) -> dict[str, Any]:
    with SimulatorProcess(seed=1, trades=trades) as sim:
        api = NepseWorkerAPI(base_url=sim.base_url, pool_name="bench-pulls-day", min_workers=1, max_workers=5)
        try:
            time.sleep(1.0)
            baseline, _ = rss()
            reset_peak()
            started = time.perf_counter()
            result = pull_floorsheet(api, out=out_dir / "day.parquet")
            elapsed = time.perf_counter() - started
            _, peak = rss()
            stats = api.get_stats()
        finally:
            api.shutdown()
        violations = sim.stats()["rate_limit_violations"]
    frame = result.to_pandas()
    return {
        "pages": result.pages,
        "rows": result.rows,
        "complete": result.complete,
        "seconds": elapsed,
        "baseline_mb": baseline / MB,
        "peak_mb": peak / MB,
        "growth_mb": (peak - baseline) / MB,
        "workers": stats.total_workers,
        "violations": violations,
        "frame_mb": frame.memory_usage(deep=True).sum() / MB,
        "frame_rows": len(frame),
        "file_mb": (out_dir / "day.parquet").stat().st_size / MB,
    }


def history_every_security(single_pages: int) -> dict[str, Any]:
    with SimulatorProcess(seed=1, trades=5_000) as sim:
        api = NepseWorkerAPI(base_url=sim.base_url, pool_name="bench-pulls-history", min_workers=5, max_workers=5)
        try:
            listed = securities(api).to_arrow()
            end = api.market_open().as_of.date()
            start = end - dt.timedelta(days=365)
            began = time.perf_counter()
            result = price_history(api, start=start, end=end)
            pool_seconds = time.perf_counter() - began
        finally:
            api.shutdown()
        ids = listed.column("id").to_pylist()[:single_pages]
        with NepseClient(sim.base_url) as client:
            client.market_open()
            began = time.perf_counter()
            for sid in ids:
                client.security_price_history(sid, start_date=start, end_date=end)
            single_rate = len(ids) / (time.perf_counter() - began)
    return {
        "securities": result.listings,
        "pages": result.pages,
        "rows": result.rows,
        "complete": result.complete,
        "pool_seconds": pool_seconds,
        "single_rate": single_rate,
        "single_projected": result.pages / single_rate,
    }


def page_forms(trades: int) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with SimulatorProcess(seed=2, trades=trades, rate_limit=None) as sim:
        api = NepseWorkerAPI(
            base_url=sim.base_url, pool_name="bench-pulls-forms", min_workers=5, max_workers=5, rate_per_token=50.0
        )
        try:
            limits = PullLimits(window=default_window(api))
            for form in ("arrow", "raw", "arrow", "raw"):  # interleaved; the second of each is kept (warm)
                series = [floorsheet_series(None)]
                reset_peak()
                before_rss, _ = rss()
                cpu, wall = time.process_time(), time.perf_counter()
                result = pull_through(PoolPageSource(api, form=form), series, limits=limits)  # type: ignore[arg-type]
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                _, peak = rss()
                out[form] = {
                    "pages": result.pages,
                    "cpu_ms_per_page": 1000 * cpu / result.pages,
                    "pages_per_s": result.pages / wall,
                    "peak_growth_mb": (peak - before_rss) / MB,
                }
                del result
        finally:
            api.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=200_000)
    parser.add_argument("--single-pages", type=int, default=30)
    parser.add_argument("--form-trades", type=int, default=50_000)
    args = parser.parse_args()

    temp_dir = tempfile.mkdtemp(prefix="nrp-", dir="/tmp")
    out_dir = Path(tempfile.mkdtemp(prefix="nrp-out-"))
    ray.init(num_cpus=2, include_dashboard=False, namespace="nepse_ray_bench", _temp_dir=temp_dir, log_to_driver=False)
    try:
        day = floorsheet_day(args.trades, out_dir)
        history = history_every_security(args.single_pages)
        forms = page_forms(args.form_trades)
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
        shutil.rmtree(out_dir, ignore_errors=True)

    print(f"\n1. Floorsheet day streamed to Parquet, pool scaling 1 -> 5 at 2 req/s per token (max RSS ru: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB over the whole run)")  # fmt: skip
    print(f"   {day['pages']} pages, {day['rows']:,} rows, complete={day['complete']}, {day['workers']} workers at the "
          f"end, rate violations {day['violations']}")  # fmt: skip
    print(f"   wall time {day['seconds']:.1f} s (goal <= 44 s); file {day['file_mb']:.1f} MB")
    print(f"   driver RSS idle {day['baseline_mb']:.0f} MB, peak {day['peak_mb']:.0f} MB, growth "
          f"{day['growth_mb']:+.0f} MB (goal <= +150 MB)")  # fmt: skip
    print(f"\n2. Price history of every security, one year: {history['securities']} securities, {history['pages']} "
          f"pages, {history['rows']:,} rows, complete={history['complete']}")  # fmt: skip
    speedup = history["single_projected"] / history["pool_seconds"]
    print(f"   pool of 5: {history['pool_seconds']:.1f} s; one token: {history['single_rate']:.2f} pages/s -> "
          f"{history['single_projected']:.0f} s projected ({speedup:.1f}x)")  # fmt: skip
    print(f"\n3. DataFrame of {day['frame_rows']:,} trades: {day['frame_mb']:.1f} MB (deep)")
    print("\n4. Page form (limits off, 5 workers): driver CPU per page and peak RSS growth")
    for form, row in forms.items():
        print(f"   {form:<6} {row['pages']:>4} pages  {row['cpu_ms_per_page']:6.2f} ms CPU/page  "
              f"{row['pages_per_s']:6.1f} pages/s  peak {row['peak_growth_mb']:+6.1f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
