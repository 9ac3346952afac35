"""Benchmark of the pool's coordinator (issue #8's closing figures, and issue #11's coordinator share), in one run.

Run ``python benchmarks/bench_coordinator.py [--backlog 50000] [--pull-pages 400] [--quick]``. It starts its own
local Ray instance on 127.0.0.1 (no dashboard) and the simulator in a subprocess, then measures:

1. **Control plane under a backlog.** ``get_stats()`` p50/p99 with 0, 10,000 and ``--backlog`` bulk requests
   queued (the pool's only slots held by slow requests), and the coordinator's RSS at rest, under the backlog and
   after it has drained (bytes per queued request). Goal: stats p99 <= 100 ms.
2. **Interactive latency during a bulk pull.** ``market_open()`` (not cached) every two seconds while a
   ``--pull-pages`` floorsheet pull runs on 5 workers at 2 req/s per token. Goal: <= 1.5 s.
3. **Shared results against a bare actor.** p50 of sequential calls and best pipelined calls/s of a cached call
   (``market_open`` with a long TTL), coalesced calls (cache off, 1,000 identical requests at once) and a direct
   session call, against a trivial method of one bare Ray actor, and of a bare async actor (the floor of any answer
   an async coordinator gives itself). Goals: p50 <= 2.5x bare, pipelined >= 0.35x bare.
4. **Throughput at W = 5** (2 req/s per token, burst 1), as in ``bench_pool.py``, with the simulator's per-token
   violations. Goal: >= 0.95 of the limit, 0 violations.
5. **Coordinator CPU per 500-row page** (issue #11: <= 2 ms): CPU seconds of the coordinator's process (user +
   system, from ``/proc`` via psutil) over the pages of (4), minus its idle CPU over the same time, divided by the
   pages; and the same with the rate limits off, when the coordinator is busy. For scale, the same page pickled as
   a pydantic model vs as a Wire (the design choice in ``wire.py``).

Timing goals live here, not in the tests. The machine is shared: expect +-30 % between runs.
"""

from __future__ import annotations

import argparse
import os
import pickle
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

import psutil  # noqa: E402
import ray  # noqa: E402  (after the environment defaults, which Ray reads at import)
from bench_pool import RATE_PER_TOKEN, actor, latency_p50s, pipelined  # noqa: E402
from ray import cloudpickle  # noqa: E402

from nepse_ray.nepse.client import NepseClient, read_model  # noqa: E402
from nepse_ray.nepse.endpoints import CATALOGUE  # noqa: E402
from nepse_ray.pool.api import NepseWorkerAPI  # noqa: E402
from nepse_ray.pool.stats import PoolStats  # noqa: E402
from nepse_ray.pool.wire import Wire  # noqa: E402
from nepse_ray.sim import SimulatorProcess  # noqa: E402
from nepse_ray.testing import live_actors  # noqa: E402

PAGE_ROWS = 500


def pool(sim: SimulatorProcess, name: str, **options: Any) -> NepseWorkerAPI:
    """A pool named ``name`` against ``sim``."""
    return NepseWorkerAPI(base_url=sim.base_url, pool_name=name, **options)


def coordinator_process(api: NepseWorkerAPI) -> psutil.Process:
    """The OS process of ``api``'s coordinator actor."""
    (info,) = [a for a in live_actors(("PoolCoordinator",)) if a["Name"] == api.options.pool_name]
    return psutil.Process(info["Pid"])


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def stats_latency(api: NepseWorkerAPI, calls: int = 200) -> tuple[float, float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        api.get_stats()
        samples.append(time.perf_counter() - start)
    return percentiles(samples)


def control_plane(sim: SimulatorProcess, backlog: int) -> dict[str, Any]:
    """Stats latency and coordinator RSS with 0 / 10,000 / ``backlog`` requests queued, and after the drain.

    While the simulator holds every request for a minute, the ten requests in the pool's slots time out after
    ``read_timeout`` (and are not retried), so the queue barely moves during the measurement and drains at full
    speed within a few seconds of the simulator answering at once again.
    """
    sim.configure(rate_limit=None, latency_ms=0.0)
    api = pool(
        sim,
        "bench-control",
        min_workers=5,
        max_workers=5,
        rate_per_token=1000.0,
        max_queued=backlog + 1_000,
        max_retries=0,
        read_timeout=5.0,
    )
    result: dict[str, Any] = {}
    try:
        process = coordinator_process(api)
        ray.get([api.remote.floorsheet(page=page, size=1) for page in range(20)])
        time.sleep(2.0)
        rest_rss = process.memory_info().rss
        result["queued"] = [(0, *stats_latency(api))]
        sim.configure(latency_ms=60_000.0)
        refs: list[Any] = []
        for target in sorted({min(10_000, backlog), backlog}):
            started = time.perf_counter()
            refs += [api.remote.floorsheet(page=page, size=1) for page in range(len(refs) + 20, target + 20)]
            result.setdefault("submit_seconds", []).append(time.perf_counter() - started)
            while _accepted(api.get_stats()) < target + 20:  # + the first pages; a few time out meanwhile
                time.sleep(0.2)
            result["queued"].append((api.get_stats().queue_length, *stats_latency(api)))
        backlog_rss = process.memory_info().rss
        sim.configure(latency_ms=0.0)
        start = time.perf_counter()
        ray.wait(refs, num_returns=len(refs), timeout=None, fetch_local=False)
        result["drain_seconds"] = time.perf_counter() - start
        del refs
        time.sleep(3.0)  # a scaling tick or two: the coordinator hands the backlog's memory back
        result["rss"] = (rest_rss, backlog_rss, process.memory_info().rss)
        result["bytes_per_request"] = (backlog_rss - rest_rss) / backlog
    finally:
        api.shutdown(drain=False)
    return result


def _accepted(stats: PoolStats) -> int:
    return stats.pending_tasks + stats.total_tasks_completed + stats.total_errors


def interactive_during_pull(sim: SimulatorProcess, pages: int) -> dict[str, Any]:
    sim.configure(rate_limit=RATE_PER_TOKEN, latency_ms=0.0)
    api = pool(
        sim,
        "bench-interactive",
        min_workers=5,
        max_workers=5,
        cache_ttl={"market_open": 0.0},  # every market_open() goes to the site through the interactive lane
    )
    samples = []
    try:
        ray.get([api.remote.get_market_id() for _ in range(10)])  # every worker has proved its token
        time.sleep(1.0 / RATE_PER_TOKEN)
        sim.reset_stats()
        start = time.perf_counter()
        refs = [api.remote.floorsheet(page=page) for page in range(pages)]
        time.sleep(2.0)
        while True:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0, fetch_local=False)
            if len(ready) > pages - 40:  # keep measuring only while a real backlog remains
                break
            asked = time.perf_counter()
            api.market_open()
            samples.append(time.perf_counter() - asked)
            time.sleep(2.0)
        ray.wait(refs, num_returns=len(refs), fetch_local=False)
        pull_seconds = time.perf_counter() - start
        violations = sim.stats()["rate_limit_violations"]
    finally:
        api.shutdown(drain=False)
    return {
        "samples": samples,
        "median": statistics.median(samples),
        "max": max(samples),
        "pull_seconds": pull_seconds,
        "violations": violations,
    }


class BareActor:
    def market_open(self) -> int:
        return 80


class AsyncBareActor:
    """The floor of any answer served by an async actor (the coordinator is one): a trivial async method."""

    async def market_open(self) -> int:
        return 80


def shared_results(sim: SimulatorProcess, calls: int) -> dict[str, dict[str, float]]:
    sim.configure(rate_limit=None, latency_ms=0.0)
    bare, async_bare = actor(BareActor), actor(AsyncBareActor)
    cached = pool(sim, "bench-cached", min_workers=5, max_workers=5, cache_ttl={"market_open": 3600.0})
    coalesced = pool(
        sim, "bench-coalesced", min_workers=5, max_workers=5, rate_per_token=1000.0, cache_ttl={"market_open": 0.0}
    )
    try:
        for api in (cached, coalesced):
            ray.get([api.remote.market_open() for _ in range(20)] + [api.remote.get_market_id() for _ in range(20)])
        ray.get([handle.market_open.remote() for handle in (bare, async_bare) for _ in range(20)])
        p50 = latency_p50s(
            {
                "bare": lambda: ray.get(bare.market_open.remote()),
                "async bare": lambda: ray.get(async_bare.market_open.remote()),
                "cached": cached.market_open,
                "session": cached.get_market_id,
            },
            calls,
        )
        rates = pipelined(
            {
                "bare": bare.market_open.remote,
                "async bare": async_bare.market_open.remote,
                "cached": cached.remote.market_open,
                "coalesced": coalesced.remote.market_open,
                "session": cached.remote.get_market_id,
            },
            calls,
        )
        shared = coalesced.get_stats()
    finally:
        for api in (cached, coalesced):
            api.shutdown(drain=False)
        for handle in (bare, async_bare):
            ray.kill(handle)
    return {"p50": p50, "calls_per_s": rates, "coalesced": {"http": shared.total_tasks_completed - shared.coalesced}}


def throughput_and_cpu(sim: SimulatorProcess, workers: int, pages_per_worker: int) -> dict[str, Any]:
    sim.configure(rate_limit=RATE_PER_TOKEN, latency_ms=0.0)
    api = pool(sim, "bench-throughput", min_workers=workers, max_workers=workers, max_retries=0)
    try:
        process = coordinator_process(api)
        total_pages = sim.config.trades // PAGE_ROWS
        ray.get([api.remote.floorsheet(page=page) for page in range(2 * workers)])  # every worker proves its token
        time.sleep(1.0 / RATE_PER_TOKEN)
        idle_start, idle_cpu = time.perf_counter(), _cpu(process)
        time.sleep(3.0)
        idle_rate = (_cpu(process) - idle_cpu) / (time.perf_counter() - idle_start)
        sim.reset_stats()
        count = workers * pages_per_worker
        cpu_before = _cpu(process)
        start = time.perf_counter()
        refs = [api.remote.floorsheet(page=2 * workers + page % (total_pages - 2 * workers)) for page in range(count)]
        ray.wait(refs, num_returns=count, fetch_local=False)
        elapsed = time.perf_counter() - start
        cpu = _cpu(process) - cpu_before
        served = sim.stats()
    finally:
        api.shutdown(drain=False)
    rate = (count - workers) / elapsed
    return {
        "pages": count,
        "seconds": elapsed,
        "pages_per_s": rate,
        "fraction": rate / (workers * RATE_PER_TOKEN),
        "violations": served["rate_limit_violations"],
        "cpu_ms_per_page": 1000 * cpu / count,
        "net_cpu_ms_per_page": 1000 * (cpu - idle_rate * elapsed) / count,
        "idle_cpu_share": idle_rate,
    }


def cpu_at_full_speed(sim: SimulatorProcess, rounds: int = 2) -> float:
    """Coordinator CPU ms per 500-row page with the rate limits off (W = 5): its cost when it is busy."""
    sim.configure(rate_limit=None, latency_ms=0.0)
    api = pool(sim, "bench-cpu", min_workers=5, max_workers=5, rate_per_token=1000.0)
    try:
        process = coordinator_process(api)
        pages = sim.config.trades // PAGE_ROWS
        ray.get([api.remote.floorsheet(page=page) for page in range(10)])
        before = _cpu(process)
        for _ in range(rounds):  # distinct pages within a round: none shares another's HTTP call
            ray.wait([api.remote.floorsheet(page=page) for page in range(pages)], num_returns=pages, fetch_local=False)
        return 1000 * (_cpu(process) - before) / (rounds * pages)
    finally:
        api.shutdown(drain=False)


class PageWorker:
    """A threaded actor that answers with a page-sized body, as a NepseWorker does (without the HTTP)."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def page(self) -> bytes:
        return self._body


class Relay:
    """Floors of the two designs, as an async actor: relaying a worker's page, or only granting a worker."""

    def __init__(self, workers: list[Any]) -> None:
        self._workers, self._turn = workers, 0

    async def relay(self) -> bytes:
        self._turn += 1
        page: bytes = await self._workers[self._turn % len(self._workers)].page.remote()
        return page

    async def grant(self) -> int:
        self._turn += 1
        return self._turn % len(self._workers)

    def pid(self) -> int:
        return os.getpid()


def design_floors(body_bytes: int, calls: int = 600) -> dict[str, float]:
    """CPU ms per call of a bare async actor that relays a page (the floor of passing results through the
    coordinator) and of one that only grants a worker (the floor of a design where callers fetch from workers)."""
    remote: Any = ray.remote
    workers = [remote(num_cpus=0, max_concurrency=2)(PageWorker).remote(b"x" * body_bytes) for _ in range(5)]
    relay = remote(num_cpus=0, max_concurrency=1000)(Relay).remote(workers)
    process = psutil.Process(ray.get(relay.pid.remote()))
    floors = {}
    try:
        for kind in ("relay", "grant"):
            method = getattr(relay, kind)
            ray.get([method.remote() for _ in range(50)])
            before = _cpu(process)
            refs = [method.remote() for _ in range(calls)]
            ray.wait(refs, num_returns=calls, fetch_local=False)
            floors[kind] = 1000 * (_cpu(process) - before) / calls
    finally:
        for handle in (relay, *workers):
            ray.kill(handle)
    return floors


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def pickling(sim: SimulatorProcess) -> dict[str, float]:
    """Milliseconds to pickle + unpickle one 500-row page as a pydantic model and as a Wire (this process)."""
    with NepseClient(sim.base_url, rate=1000.0) as client:
        body = client.fetch("floorsheet", {"page": 1}, lambda endpoint, raw: raw)
    model = read_model(CATALOGUE["floorsheet"], body)
    wire = Wire("floorsheet", "model", body.body)

    def cost(value: object, loads: Callable[[bytes], object], rounds: int = 50) -> float:
        start = time.perf_counter()
        for _ in range(rounds):
            loads(cloudpickle.dumps(value))  # as Ray pickles a result
        return 1000 * (time.perf_counter() - start) / rounds

    return {
        "model": cost(model, pickle.loads),
        "wire_in_coordinator": _wire_pass_cost(wire),
        "body_bytes": float(len(body.body)),
    }


def _wire_pass_cost(wire: Wire, rounds: int = 50) -> float:
    """What the coordinator pays per page: unpickle a Wire that stays bytes, pickle it again."""
    _, args = wire.__reduce__()
    start = time.perf_counter()
    for _ in range(rounds):
        endpoint, form, payload = pickle.loads(cloudpickle.dumps(args))
        cloudpickle.dumps(Wire(endpoint, form, payload))
    return 1000 * (time.perf_counter() - start) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backlog", type=int, default=50_000)
    parser.add_argument("--pull-pages", type=int, default=400)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--pages-per-worker", type=int, default=24)
    parser.add_argument("--quick", action="store_true", help="small figures for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.backlog, args.pull_pages, args.calls, args.pages_per_worker = 2_000, 60, 200, 6

    temp_dir = tempfile.mkdtemp(prefix="nrc-", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, namespace="nepse_ray_bench", _temp_dir=temp_dir, log_to_driver=False)
    sim = SimulatorProcess(seed=1, trades=max(args.pull_pages, 120) * PAGE_ROWS, rate_limit=RATE_PER_TOKEN, burst=1)
    try:
        costs = pickling(sim)
        control = control_plane(sim, args.backlog)
        interactive = interactive_during_pull(sim, args.pull_pages)
        shared = shared_results(sim, args.calls)
        flow = throughput_and_cpu(sim, 5, args.pages_per_worker)
        flow["full_speed_cpu_ms_per_page"] = cpu_at_full_speed(sim)
        costs["floors"] = design_floors(int(costs["body_bytes"]))
    finally:
        sim.close()
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    report(args, control, interactive, shared, flow, costs)


def report(args: Any, control: Any, interactive: Any, shared: Any, flow: Any, costs: Any) -> None:
    print("\n1. Control plane (get_stats) with bulk requests queued            goal: p99 <= 100 ms")
    for queued, p50, p99 in control["queued"]:
        print(f"   {queued:>7,} queued   p50 {p50 * 1e3:6.1f} ms   p99 {p99 * 1e3:6.1f} ms")
    rest, loaded, after = (value / 2**20 for value in control["rss"])
    print(
        f"   coordinator RSS: at rest {rest:.0f} MiB, under {args.backlog:,} queued {loaded:.0f} MiB, after the "
        f"drain {after:.0f} MiB; {control['bytes_per_request'] / 1024:.1f} KiB per queued request; "
        f"drained in {control['drain_seconds']:.1f} s"
    )
    print(f"\n2. market_open() during a {args.pull_pages}-page pull on 5 workers     goal: <= 1.5 s")
    print(
        f"   median {interactive['median']:.2f} s, max {interactive['max']:.2f} s over {len(interactive['samples'])} "
        f"calls; the pull took {interactive['pull_seconds']:.1f} s, {interactive['violations']} violations"
    )
    print(f"\n3. Shared results ({args.calls} calls) against a bare actor     goals: p50 <= 2.5x, pipelined >= 0.35x")
    bare_p50, bare_rate = shared["p50"]["bare"], shared["calls_per_s"]["bare"]
    print(f"   bare actor: p50 {bare_p50 * 1e3:.2f} ms, {bare_rate:,.0f} calls/s pipelined")
    for name in ("async bare", "cached", "session"):
        p50 = shared["p50"][name]
        print(f"   {name:<10} p50 {p50 * 1e3:.2f} ms ({p50 / bare_p50:.2f}x bare)")
    for name in ("async bare", "cached", "coalesced", "session"):
        rate = shared["calls_per_s"][name]
        print(f"   {name:<10} {rate:,.0f} calls/s pipelined ({rate / bare_rate:.2f}x bare)")
    print("   (async bare: a trivial async actor method, the floor of anything a coordinator answers itself)")
    print(f"   coalesced: {args.calls * 3 + 20} identical calls cost {shared['coalesced']['http']} worker requests")
    print("\n4. Throughput at W = 5 (2 req/s per token)                        goal: >= 0.95, 0 violations")
    print(
        f"   {flow['pages']} pages in {flow['seconds']:.1f} s: {flow['pages_per_s']:.2f} pages/s = "
        f"{flow['fraction']:.1%} of the limit, {flow['violations']} violations"
    )
    print("\n5. Coordinator CPU per 500-row page                               goal (#11): <= 2 ms")
    print(
        f"   at 10 pages/s (4.): {flow['cpu_ms_per_page']:.2f} ms per page in all, {flow['net_cpu_ms_per_page']:.2f} "
        f"ms net of its idle ticking ({flow['idle_cpu_share']:.1%} of a core at rest); with the limits off: "
        f"{flow['full_speed_cpu_ms_per_page']:.2f} ms per page"
    )
    print(
        f"   one page ({costs['body_bytes'] / 1024:.0f} KiB body) pickled + unpickled: as a model "
        f"{costs['model']:.2f} ms, as a passing Wire {costs['wire_in_coordinator']:.3f} ms"
    )
    floors = costs["floors"]
    print(
        f"   floors, bare async actors: relaying one page {floors['relay']:.2f} ms per call (any pass-through "
        f"coordinator); granting a worker {floors['grant']:.2f} ms per call (callers fetching from workers)"
    )


if __name__ == "__main__":
    main()
