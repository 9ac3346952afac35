"""Benchmark of issue #11's lean data path: CPU per 500-row page by process, and pages/s at W = 5, 10, 15, 20.

Run ``python benchmarks/bench_scaleout.py [--workers 5 10 15 20] [--seconds 12] [--paths submit direct]``. It
starts its own local Ray instance on 127.0.0.1 (2 CPUs, no dashboard) and the simulator in a subprocess (2 req/s
per token, burst 1), then for each path and each pool size W (fixed: ``min_workers = max_workers = W``) asks for
``seconds x 2 x W`` floorsheet pages of 500 rows in the pulls' form (``arrow``), in the pulls' window, and reports:

* **pages/s** over the run (the first W pages are each token's burst and not counted) as a fraction of the
  2 x W limit, and the simulator's per-token violations. Goal at W = 15: >= 0.90, zero violations;
* **CPU ms per page** by process, summed over the run (user + system, from ``/proc`` via psutil): the workers, the
  coordinator, the driver (this process), the simulator, and Ray's own processes (GCS, raylet, idle workers...:
  every other descendant of this process). Goals: all but Ray's <= 15 ms, the coordinator <= 2 ms. Each process
  also burns CPU while idle (Ray's core worker threads tick in every actor); the same figures net of each group's
  idle rate, measured over ``IDLE_SECONDS`` with the pool up and nothing asked, are printed after the gross ones.

The two paths are the pool's two ways to a page: ``submit`` is ``api.submit(..., priority="bulk", form="arrow")``
(today's ``api.submit``/``api.remote``, and what pulls used before issue #11: the page travels worker ->
coordinator -> driver), ``direct`` is what pulls use now (``PoolPageSource``: the coordinator grants worker slots,
the page travels worker -> driver).

Timing goals live here, not in the tests. The machine is shared: expect +-30 % between runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import bench_pool  # first: it sets Ray's environment defaults, which Ray reads at import
import psutil
import ray

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls.engine import PageSource
from nepse_ray.pulls.source import PAGE_FORM, PoolPageSource, as_page, default_window
from nepse_ray.sim import SimulatorProcess
from nepse_ray.testing import live_actors

PAGE_ROWS = 500
GROUPS = ("workers", "coordinator", "driver", "simulator", "ray")
IDLE_SECONDS = 3.0


class SubmitPageSource:
    """Pages through ``api.submit`` (the one-hop ObjectRef design): the baseline the direct path is measured
    against."""

    def __init__(self, api: NepseWorkerAPI) -> None:
        self._api = api

    def submit(self, endpoint: str, params: dict[str, Any]) -> Any:
        return self._api.submit(endpoint, params, priority="bulk", form=PAGE_FORM)

    def wait(self, handles: Sequence[Any], timeout: float) -> list[tuple[Any, Any]]:
        ready, _ = ray.wait(list(handles), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(handles), num_returns=len(handles), timeout=0)
        return [(ref, as_page("floorsheet", ray.get(ref))) for ref in ready]

    def close(self) -> None:
        """Nothing to give back."""


def page_source(api: NepseWorkerAPI, path: str) -> SubmitPageSource | PoolPageSource:
    return SubmitPageSource(api) if path == "submit" else PoolPageSource(api)


def fetch(source: PageSource[Any], pages: range, window: int) -> int:
    """Ask for every page of ``pages`` keeping ``window`` in flight, as the pull engine does; pages answered."""
    todo, in_flight, answered = list(pages), set(), 0
    while todo or in_flight:
        while todo and len(in_flight) < window:
            in_flight.add(source.submit("floorsheet", {"page": todo.pop(), "size": PAGE_ROWS}))
        for handle, answer in source.wait(list(in_flight), timeout=1.0):
            in_flight.discard(handle)
            if isinstance(answer, Exception):
                raise answer
            answered += 1
    return answered


def processes(api: NepseWorkerAPI, sim: SimulatorProcess) -> dict[int, str]:
    """Every process of this run, by pid, with its group (see :data:`GROUPS`)."""
    name = api.options.pool_name
    actors = live_actors(("PoolCoordinator", "NepseWorker"))
    groups = {p.pid: "ray" for p in psutil.Process().children(recursive=True)}
    groups.update({a["Pid"]: "workers" for a in actors if a["ActorClassName"] == "NepseWorker"})
    groups.update({a["Pid"]: "coordinator" for a in actors if a["Name"] == name})
    groups[sim.pid] = "simulator"
    groups[os.getpid()] = "driver"
    return groups


def cpu_by_group(groups: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system) each group has used so far; processes gone since count as zero."""
    totals = dict.fromkeys(GROUPS, 0.0)
    for pid, group in groups.items():
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        totals[group] += times.user + times.system
    return totals


def run(sim: SimulatorProcess, path: str, workers: int, seconds: float) -> dict[str, Any]:
    """One pool of ``workers`` on ``path``: its pages/s, violations and CPU per page by process group."""
    sim.configure(rate_limit=bench_pool.RATE_PER_TOKEN, latency_ms=0.0)
    api = NepseWorkerAPI(
        base_url=sim.base_url, pool_name=f"scale-{path}-{workers}", min_workers=workers, max_workers=workers
    )
    source = page_source(api, path)
    try:
        window = default_window(api)
        fetch(source, range(1, 2 * workers + 1), window)  # every worker proves its token
        time.sleep(1.0 / bench_pool.RATE_PER_TOKEN)
        groups = processes(api, sim)
        idle_start, idle_before = time.perf_counter(), cpu_by_group(groups)
        time.sleep(IDLE_SECONDS)
        idle_after, idle_elapsed = cpu_by_group(groups), time.perf_counter() - idle_start
        sim.reset_stats()
        count = int(seconds * bench_pool.RATE_PER_TOKEN * workers)
        before = cpu_by_group(groups)
        start = time.perf_counter()
        answered = fetch(source, range(1, count + 1), window)
        elapsed = time.perf_counter() - start
        after = cpu_by_group(groups)
        served = sim.stats()
    finally:
        source.close()
        api.shutdown(drain=False)
    rate = (answered - workers) / elapsed
    return {
        "path": path,
        "workers": workers,
        "pages": answered,
        "pages_per_s": rate,
        "fraction": rate / (workers * bench_pool.RATE_PER_TOKEN),
        "violations": served["rate_limit_violations"],
        "cpu_ms": {group: 1000 * (after[group] - before[group]) / answered for group in GROUPS},
        "net_cpu_ms": {
            group: 1000 * (after[group] - before[group] - idle_rate * elapsed) / answered
            for group in GROUPS
            for idle_rate in [(idle_after[group] - idle_before[group]) / idle_elapsed]
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[5, 10, 15, 20])
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--paths", nargs="+", choices=("submit", "direct"), default=["submit", "direct"])
    args = parser.parse_args()
    pages = int(args.seconds * bench_pool.RATE_PER_TOKEN * max(args.workers)) + 1
    temp_dir = tempfile.mkdtemp(prefix="nrs-", dir="/tmp")
    ray.init(num_cpus=2, include_dashboard=False, namespace="nepse_ray_bench", _temp_dir=temp_dir, log_to_driver=False)
    try:
        with SimulatorProcess(seed=1, trades=PAGE_ROWS * pages) as sim:
            results = [run(sim, path, w, args.seconds) for w in args.workers for path in args.paths]
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    report(results)


def report(results: list[dict[str, Any]]) -> None:
    header = f"{'path':>7} {'W':>3} {'pages':>5} {'pages/s':>8} {'of limit':>8} {'viol':>4}  "
    header += "  ".join(f"{g:>11}" for g in GROUPS) + "  total-ray"
    for key, title in (("cpu_ms", "CPU ms per page"), ("net_cpu_ms", "CPU ms per page, net of each group's idle rate")):
        print(f"\n{title}\n{header}")
        for r in results:
            cpu = r[key]
            print(
                f"{r['path']:>7} {r['workers']:>3} {r['pages']:>5} {r['pages_per_s']:>8.2f} {r['fraction']:>8.1%} "
                f"{r['violations']:>4}  "
                + "  ".join(f"{cpu[g]:>11.2f}" for g in GROUPS)
                + f"  {sum(cpu[g] for g in GROUPS if g != 'ray'):>9.2f}"
            )


if __name__ == "__main__":
    main()
