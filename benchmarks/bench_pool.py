"""Benchmark of the Ray worker pool against the simulator (2 requests/s per token, burst 1).

Run ``python benchmarks/bench_pool.py [--pages-per-worker 24] [--calls 1000]``. It starts its own local Ray
instance on 127.0.0.1 (no dashboard) and the simulator in a subprocess, then measures:

1. **Throughput.** Floorsheet pages/s of a pool fixed at ``W = 1..5`` workers (``min = max = W``) after a warm-up
   in which every worker has proved its token. Steady-state rate = ``(N - W) / elapsed``: each token's first
   request after the warm-up is free (burst 1), so ``N`` requests take ``(N/W - 1) / 2`` seconds at the limit.
   The clock stops when every page has been delivered to the driver, before the driver unpickles them.
   Reported as a fraction of the ``2 W`` limit (goal >= 0.95 at W = 5), with the simulator's per-token rate
   violations in the measured window (goal 0).
2. **Facade overhead.** ``get_market_id()`` (answered by a worker from its cache, no HTTP) through the facade,
   against a trivial method of one bare Ray actor: p50 latency of sequential calls (goal <= 2.5x bare) and the best
   calls/s of three runs with ``--calls`` submitted at once (goal >= 0.35x bare), contenders interleaved. A *relay*
   column measures the floor of any design with a coordinator in the data path: a trivial async actor awaiting a
   trivial threaded actor.

Timing goals live here, not in the tests. The machine is shared: expect +-30 % between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

for _name, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
}.items():
    os.environ.setdefault(_name, _value)

import ray  # noqa: E402  (after the environment defaults, which Ray reads at import)

from nepse_ray.pool.api import NepseWorkerAPI  # noqa: E402
from nepse_ray.sim import SimulatorProcess  # noqa: E402

RATE_PER_TOKEN = 2.0
TRADES = 100_000
PAGES = TRADES // 500


def actor(cls: type, **options: Any) -> Any:
    """A handle to a new actor of ``cls`` (Ray's stubs do not type ``ray.remote`` with actor options)."""
    remote: Any = ray.remote
    return remote(num_cpus=0, **options)(cls).remote()


class BareActor:
    def get_market_id(self) -> int:
        return 80


class RelayActor:
    """The least any coordinator can cost: an async actor that awaits a trivial call on a threaded actor."""

    def __init__(self) -> None:
        self._target = actor(BareActor, max_concurrency=2)

    async def get_market_id(self) -> int:
        value: int = await self._target.get_market_id.remote()
        return value


def throughput(sim: SimulatorProcess, workers: int, pages_per_worker: int) -> dict[str, float]:
    api = NepseWorkerAPI(
        base_url=sim.base_url, pool_name=f"bench-{workers}", min_workers=workers, max_workers=workers, max_retries=0
    )
    try:
        ray.get([api.remote.floorsheet(page=page) for page in range(2 * workers)])  # every worker proves its token
        time.sleep(1.0 / RATE_PER_TOKEN)  # let every token bucket refill its one permit
        sim.reset_stats()
        count = workers * pages_per_worker
        start = time.perf_counter()
        refs = [api.remote.floorsheet(page=page % PAGES) for page in range(count)]
        ray.wait(refs, num_returns=count)  # every page delivered to this process (not yet unpickled)
        elapsed = time.perf_counter() - start
        served = sim.stats()
        pages = ray.get(refs)
    finally:
        api.shutdown()
    assert len(pages) == count
    rate = (count - workers) / elapsed
    return {
        "workers": workers,
        "pages": count,
        "seconds": elapsed,
        "pages_per_s": rate,
        "fraction": rate / (workers * RATE_PER_TOKEN),
        "violations": served["rate_limit_violations"],
    }


def latency_p50s(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each contender, interleaved so that all see the same machine load."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def pipelined(submits: dict[str, Callable[[], Any]], calls: int, repeats: int = 3) -> dict[str, float]:
    """Best calls/s of each contender with ``calls`` submitted at once, over interleaved repeats."""
    best = dict.fromkeys(submits, 0.0)
    for _ in range(repeats):
        for name, submit in submits.items():
            start = time.perf_counter()
            ray.get([submit() for _ in range(calls)])
            best[name] = max(best[name], calls / (time.perf_counter() - start))
    return best


def overhead(sim: SimulatorProcess, calls: int) -> dict[str, dict[str, float]]:
    bare = actor(BareActor)
    relay = actor(RelayActor)
    api = NepseWorkerAPI(base_url=sim.base_url, pool_name="bench-overhead", min_workers=5, max_workers=5)
    try:
        ray.get([api.remote.get_market_id() for _ in range(20)])  # tokens proved, market ids cached
        ray.get([handle.get_market_id.remote() for handle in (bare, relay) for _ in range(20)])
        p50 = latency_p50s(
            {
                "bare": lambda: ray.get(bare.get_market_id.remote()),
                "relay": lambda: ray.get(relay.get_market_id.remote()),
                "pool": api.get_market_id,
            },
            calls,
        )
        rates = pipelined(
            {"bare": bare.get_market_id.remote, "relay": relay.get_market_id.remote, "pool": api.remote.get_market_id},
            calls,
        )
    finally:
        api.shutdown()
        for handle in (bare, relay):
            ray.kill(handle)
    return {"p50": p50, "calls_per_s": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages-per-worker", type=int, default=24)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--max-workers", type=int, default=5)
    args = parser.parse_args()

    temp_dir = tempfile.mkdtemp(prefix="nrb-", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, namespace="nepse_ray_bench", _temp_dir=temp_dir, log_to_driver=False)
    sim = SimulatorProcess(seed=1, trades=TRADES, rate_limit=RATE_PER_TOKEN, burst=1)
    try:
        rows = [throughput(sim, workers, args.pages_per_worker) for workers in range(1, args.max_workers + 1)]
        costs = overhead(sim, args.calls)
    finally:
        sim.close()
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)

    print(f"\nThroughput (limit {RATE_PER_TOKEN:g} req/s per token, burst 1)")
    print(f"{'W':>2} {'pages':>6} {'seconds':>8} {'pages/s':>8} {'of limit':>9} {'violations':>11}")
    for row in rows:
        print(
            f"{row['workers']:>2} {row['pages']:>6} {row['seconds']:>8.2f} {row['pages_per_s']:>8.2f} "
            f"{row['fraction']:>9.1%} {row['violations']:>11}"
        )
    print(f"\nFacade overhead ({args.calls} cached get_market_id calls; relay = the floor of any coordinator hop)")
    print(f"{'':<20} {'bare':>8} {'relay':>8} {'pool':>8} {'relay/bare':>11} {'pool/bare':>10}  goal")
    for label, key, unit, goal in (
        ("p50 latency (ms)", "p50", 1e3, "<= 2.5"),
        ("pipelined calls/s", "calls_per_s", 1.0, ">= 0.35"),
    ):
        bare, relay, pool = (costs[key][kind] for kind in ("bare", "relay", "pool"))
        print(
            f"{label:<20} {bare * unit:>8.2f} {relay * unit:>8.2f} {pool * unit:>8.2f} {relay / bare:>11.2f} "
            f"{pool / bare:>10.2f}  {goal}"
        )


if __name__ == "__main__":
    main()
