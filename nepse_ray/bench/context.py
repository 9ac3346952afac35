"""The one context every scenario runs in: a private local Ray instance, simulators in their own processes, and
the measuring tools the scenarios share (process CPU and memory, latency and pipelined-rate loops).

Ray starts on loopback with its own short temp dir, no dashboard and usage stats off; the token that Ray's auth
needs is kept in that temp dir. Simulators are started on first use, one per day size (a served day's trades are
fixed when it starts), and are put back to their defaults (2 requests/s per token, burst 1, no latency) before
each scenario.
"""

from __future__ import annotations

import contextlib
import itertools
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import psutil

from ..local_ray import private_ray
from ..pool.stats_math import percentile

if TYPE_CHECKING:
    from ..pool.api import NepseWorkerAPI
    from ..sim import SimulatorProcess

RATE_PER_TOKEN = 2.0
PAGE_ROWS = 500
MB = 2**20
NAMESPACE = "nepse_ray_bench"


class BenchContext:
    """Ray and the simulators of one benchmark run; use as a context manager."""

    def __init__(self) -> None:
        self._ray = contextlib.ExitStack()
        self._simulators: dict[int, SimulatorProcess] = {}
        self._pool_numbers = itertools.count(1)
        self.address = ""

    def __enter__(self) -> BenchContext:
        info = self._ray.enter_context(private_ray(NAMESPACE, prefix="nrb-"))
        self.address = info["gcs_address"]  # where another driver process joins this run's Ray
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            for sim in self._simulators.values():
                sim.close()
        finally:
            self._ray.close()

    def simulator(self, trades: int, **config: Any) -> SimulatorProcess:
        """The simulator serving a day of ``trades`` trades, at the default limits unless ``config`` says otherwise."""
        from ..sim import SimulatorProcess

        if trades not in self._simulators:
            self._simulators[trades] = SimulatorProcess(seed=1, trades=trades, rate_limit=RATE_PER_TOKEN, burst=1)
        sim = self._simulators[trades]
        settings: dict[str, Any] = {
            "rate_limit": RATE_PER_TOKEN,
            "burst": 1,
            "rate_leeway": 0.25,
            "latency_ms": 0.0,
            "jitter_ms": 0.0,
            "day_source": "nepal",
            "changes": (),
        }
        sim.configure(**(settings | config))
        sim.reset_stats()
        return sim

    def pool(self, sim: SimulatorProcess, **options: Any) -> NepseWorkerAPI:
        """A new pool against ``sim`` with a name of its own in the bench namespace."""
        from ..pool.api import NepseWorkerAPI

        options.setdefault("pool_name", f"bench-{next(self._pool_numbers)}")
        return NepseWorkerAPI(base_url=sim.base_url, namespace=NAMESPACE, **options)

    def simulator_pids(self) -> set[int]:
        """The process ids of every simulator this run started."""
        return {sim.pid for sim in self._simulators.values()}

    def driver_processes(self) -> list[psutil.Process]:
        """Every process this run started, directly or not (Ray's, the workers', the simulators')."""
        children: list[psutil.Process] = psutil.Process().children(recursive=True)
        return children


def actor(cls: type, *args: Any, **options: Any) -> Any:
    """A handle to a new actor of ``cls`` taking no CPU (Ray's stubs do not type ``ray.remote`` with options)."""
    import ray

    remote: Any = ray.remote
    return remote(num_cpus=0, **options)(cls).remote(*args)


def coordinator_process(api: NepseWorkerAPI) -> psutil.Process:
    """The OS process of ``api``'s coordinator: the live actor named after the pool."""
    from ..testing import live_actors

    (info,) = [a for a in live_actors() if a["Name"] == api.options.pool_name]
    return psutil.Process(int(info["Pid"]))


def worker_processes(api: NepseWorkerAPI) -> list[psutil.Process]:
    return [psutil.Process(w.pid) for w in api.get_stats().workers if w.pid is not None]


def cpu_seconds(process: psutil.Process) -> float:
    """User + system CPU seconds of ``process`` so far (0 once it has gone)."""
    try:
        times = process.cpu_times()
    except psutil.NoSuchProcess:
        return 0.0
    return float(times.user + times.system)


def driver_rss() -> tuple[int, int]:
    """(current, peak) resident set size of this process in bytes (Linux)."""
    status = Path("/proc/self/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status if ":" in line)
    return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


def reset_peak_rss() -> None:
    """Start the kernel's peak-RSS counter of this process again from now (Linux)."""
    Path("/proc/self/clear_refs").write_text("5")


def timed(call: Callable[[], object]) -> float:
    """Seconds ``call()`` took."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def latency_p50s(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median seconds per call of each contender, interleaved so that all see the same machine load."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            samples[name].append(timed(call))
    return {name: statistics.median(values) for name, values in samples.items()}


def pipelined(submits: dict[str, Callable[[], Any]], calls: int, repeats: int = 3) -> dict[str, float]:
    """Best calls/s of each contender with ``calls`` submitted at once, over interleaved repeats."""
    import ray

    best = dict.fromkeys(submits, 0.0)
    for _ in range(repeats):
        for name, submit in submits.items():
            elapsed = timed(lambda: ray.get([submit() for _ in range(calls)]))  # noqa: B023 (called at once)
            best[name] = max(best[name], calls / elapsed)
    return best


def share_of_limit(pages: int, tokens: int, seconds: float) -> float:
    """``pages`` answered in ``seconds`` as a share of ``tokens x 2`` requests/s; each token's first page went on
    the permit it had saved up while idle (burst 1), so it is not counted."""
    return (pages - tokens) / seconds / (tokens * RATE_PER_TOKEN)


def p50_p99(samples: list[float]) -> tuple[float, float]:
    return percentile(samples, 50) or 0.0, percentile(samples, 99) or 0.0


def warm(api: NepseWorkerAPI, workers: int, timeout: float = 180.0) -> None:
    """Once ``workers`` workers serve, every one proves its tokens; then each token bucket refills its one permit."""
    import ray

    deadline = time.monotonic() + timeout
    while sum(w.state == "serving" for w in api.get_stats().workers) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    ray.get([api.remote.floorsheet(page=page, size=1) for page in range(2 * workers * api.options.tokens_per_worker)])
    time.sleep(1.0 / RATE_PER_TOKEN)
