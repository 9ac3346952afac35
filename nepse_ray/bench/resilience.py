"""Elasticity and recovery scenarios: a backlog scaling the pool up and idleness scaling it down, the time from
a SIGKILL (a worker's, the coordinator's) to the first call answered again, and whole pulls under chaos (faults of
every kind, workers SIGKILLed every few seconds, the coordinator once)."""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import psutil
import ray

from ..pool.api import NepseWorkerAPI
from ..pool.stats import PoolStats
from ..pulls import IncompletePullError, Progress, pull_floorsheet
from .context import MB, BenchContext, coordinator_process, warm
from .report import Goal, Value
from .scenario import Scenario

DAY_TRADES = 5_000
POLL = 0.05
#: The simulator's faults a chaos run switches on, each at a rate drawn per run.
CHAOS_FAULTS = ("fault_5xx", "fault_drop", "fault_non_json", "fault_empty", "fault_403", "fault_early_expiry")


def _until(api: NepseWorkerAPI, done: Callable[[PoolStats], bool], timeout: float) -> float:
    """Seconds until ``done(stats)`` holds (``timeout`` if it never does)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout and not done(api.get_stats()):
        time.sleep(POLL)
    return time.perf_counter() - start


def scaling(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Backlog submitted -> five workers serving; backlog drained -> back to ``min_workers`` after ``idle_timeout``."""
    sim = context.simulator(DAY_TRADES)
    api = context.pool(sim, min_workers=1, max_workers=5, idle_timeout=p["idle_timeout"], max_queued=p["backlog"] + 10)
    try:
        warm(api, 1)
        refs = [api.remote.floorsheet(page=page, size=1) for page in range(p["backlog"])]
        up = _until(api, lambda s: sum(w.state == "serving" for w in s.workers) >= 5, timeout=60.0)
        ray.wait(refs, num_returns=len(refs), fetch_local=False)
        down = _until(api, lambda s: s.total_workers <= 1, timeout=p["idle_timeout"] + 30.0)
    finally:
        api.shutdown(drain=False)
    return {
        "scale_up_s": Value(up, "s"),
        "scale_down_s": Value(down, "s"),
        "down_off_timeout_s": Value(abs(down - p["idle_timeout"]), "s"),
    }


def _first_success(call: Callable[[], object], timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            call()
            break
        except Exception:  # any failure while the pool recovers: try again
            time.sleep(POLL)
    return time.perf_counter() - start


def recovery(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """SIGKILL the serving worker of a pool with a standby (``min_workers=1``, ``max_workers=5``), then its
    coordinator; then the only worker of a pool at ``max_workers=1`` (no room for a standby): seconds from each kill
    to the next answered call, and the standby's memory at idle."""
    sim = context.simulator(DAY_TRADES)
    pages = iter(range(1_000_000))
    api = context.pool(sim, min_workers=1, max_workers=5, standby=True)
    try:
        warm(api, 1)
        standby = _standby_pid(api)
        standby_rss = psutil.Process(standby).memory_info().rss
        (worker,) = [w.pid for w in api.get_stats().workers if w.state == "serving"]
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        worker_seconds = _first_success(lambda: api.floorsheet(page=next(pages), size=1))
        coordinator = coordinator_process(api)
        time.sleep(1.0)
        coordinator.send_signal(signal.SIGKILL)
        coordinator_seconds = _first_success(lambda: api.floorsheet(page=next(pages), size=1))
    finally:
        api.shutdown(drain=False)
    api = context.pool(sim, min_workers=1, max_workers=1)
    try:
        warm(api, 1)
        (worker,) = [w.pid for w in api.get_stats().workers]
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        alone_seconds = _first_success(lambda: api.floorsheet(page=next(pages), size=1))
    finally:
        api.shutdown(drain=False)
    return {
        "worker_kill_s": Value(worker_seconds, "s"),
        "coordinator_kill_s": Value(coordinator_seconds, "s"),
        "worker_kill_no_standby_s": Value(alone_seconds, "s"),
        "standby_rss": Value(standby_rss / MB, "MiB"),
    }


def _standby_pid(api: NepseWorkerAPI, timeout: float = 120.0) -> int:
    """The pid of ``api``'s standby worker, once it stands by."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [w.pid for w in api.get_stats().workers if w.state == "standby" and w.pid is not None]
        if pids:
            return pids[0]
        time.sleep(POLL)
    raise TimeoutError(f"no worker stood by within {timeout:g} s")


class ChaosKiller(threading.Thread):
    """SIGKILLs one of pool ``pool``'s workers every ``interval`` (a range of seconds, drawn each time) until
    stopped, and its coordinator once :meth:`progress` sees ``coordinator_at`` pages done; ``kills`` names each
    victim's actor class. Used by the ``chaos`` scenario and by the suite's chaos test."""

    def __init__(
        self, pool: str, rng: random.Random, coordinator_at: int, interval: tuple[float, float] = (2.0, 4.0)
    ) -> None:
        super().__init__(daemon=True)
        self._pool, self._rng, self._at, self._interval = pool, rng, coordinator_at, interval
        self.stop = threading.Event()
        self.kills: list[str] = []

    def run(self) -> None:
        from ..testing import live_actors

        while not self.stop.wait(self._rng.uniform(*self._interval)):
            workers = [a for a in live_actors(("NepseWorker",)) if a["Pid"] and a["Name"].startswith(self._pool)]
            if workers:
                self._kill(self._rng.choice(workers))

    def progress(self, progress: Progress) -> None:
        """A pull's progress callback: the coordinator's turn comes once ``coordinator_at`` pages are done."""
        from ..testing import live_actors

        if progress.pages_done >= self._at and "PoolCoordinator" not in self.kills:
            (coordinator,) = [a for a in live_actors(("PoolCoordinator",)) if a["Name"] == self._pool]
            self._kill(coordinator)

    def _kill(self, actor: dict[str, Any]) -> None:
        try:
            os.kill(actor["Pid"], signal.SIGKILL)
        except ProcessLookupError:
            return
        self.kills.append(actor["ActorClassName"])


@dataclasses.dataclass(frozen=True)
class ChaosRun:
    """One chaos pull: exact or not, trades kept of the day's, rows off (missing, twice or foreign), whether the
    pool's totals counted every page, and its seconds."""

    exact: bool
    kept: int
    expected: int
    off: int
    counted: bool
    seconds: float


def chaos_run(context: BenchContext, p: Mapping[str, Any], rng: random.Random) -> ChaosRun:
    """A whole floorsheet pull from a simulator of its own seed, under faults at rates and kills at intervals drawn
    from ``rng``, checked against the day's trades."""
    from ..sim import SimulatorProcess

    low = rng.uniform(*p["kill_every"])
    pages = -(-p["trades"] // 500)
    with SimulatorProcess(seed=rng.randrange(10**6), trades=p["trades"], rate_limit=2.0, burst=1) as sim:
        api = context.pool(sim, min_workers=5, max_workers=5)
        try:
            warm(api, 5)
            sim.configure(**{fault: rng.uniform(*p["fault_rate"]) for fault in CHAOS_FAULTS})
            killer = ChaosKiller(api.options.pool_name, rng, coordinator_at=pages // 3, interval=(low, low + 1.0))
            start = time.perf_counter()
            killer.start()
            try:
                result = pull_floorsheet(api, on_progress=killer.progress)
            except IncompletePullError as error:
                assert error.partial is not None
                result = error.partial
            finally:
                killer.stop.set()
                killer.join()
            seconds = time.perf_counter() - start
            first: int = sim.stats()["first_contract_id"]
            counted = api.get_stats().total_tasks_completed >= pages
        finally:
            api.shutdown(drain=False)
    truth = list(range(first + p["trades"] - 1, first - 1, -1))
    ids = result.to_arrow().column("contract_id").to_pylist()
    kept = len(set(ids) & set(truth))
    exact = result.complete and ids == truth and killer.kills.count("PoolCoordinator") == 1
    return ChaosRun(exact, kept, len(truth), len(ids) - kept + len(truth) - kept, counted, seconds)


def chaos(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Whole floorsheet pulls under chaos, each run with its own seed, fault rates and kill intervals: how many came
    back exact (every trade once, none missing), and rows kept over rows expected across all runs."""
    runs = [chaos_run(context, p, random.Random(p["seed"] + number)) for number in range(p["runs"])]
    exact = sum(run.exact for run in runs)
    return {
        "runs_exact": Value(exact, "runs"),
        "runs_total": Value(len(runs), "runs"),
        "runs_short": Value(len(runs) - exact, "runs"),
        "rows_per_expected": Value(sum(run.kept for run in runs) / sum(run.expected for run in runs), ""),
        "rows_off": Value(sum(run.off for run in runs), "rows"),
        "runs_counting_every_page": Value(sum(run.counted for run in runs), "runs"),
        "seconds_per_run": Value(sum(run.seconds for run in runs) / len(runs), "s"),
    }


SCENARIOS = (
    Scenario(
        "scaling",
        "a backlog of requests scales a pool (min 1, max 5) to five serving; idle, it returns to min_workers",
        scaling,
        full={"backlog": 200, "idle_timeout": 5.0},
        quick={"backlog": 60, "idle_timeout": 1.0},
        goals=(
            Goal("scale_up_s", "<=", 3.0, "five serving <= 3 s after the backlog"),
            Goal("down_off_timeout_s", "<=", 1.0, "back to min_workers within 1 s of idle_timeout"),
        ),
    ),
    Scenario(
        "recovery",
        "SIGKILL of the serving worker (a standby ready), of the coordinator, of a lone worker: seconds to the first "
        "successful call",
        recovery,
        full={},
        quick={},
        goals=(
            Goal("worker_kill_s", "<=", 1.0, "worker kill -> first success <= 1 s (with a standby)"),
            Goal("coordinator_kill_s", "<=", 5.0, "coordinator kill -> first success <= 5 s"),
        ),
    ),
)

#: Registered on its own, to run last (``registry.py``).
CHAOS = Scenario(
    "chaos",
    "whole floorsheet pulls (200 pages, 100,000 trades, 5 workers at 2 req/s per token) under 2-5 % of every "
    "fault, a worker SIGKILLed every 2-5 s and the coordinator once: runs exact of runs, rows of rows expected",
    chaos,
    full={"runs": 5, "trades": 100_000, "seed": 16, "fault_rate": (0.02, 0.05), "kill_every": (2.0, 4.0)},
    quick={"runs": 2, "trades": 30_000, "seed": 16, "fault_rate": (0.02, 0.05), "kill_every": (2.0, 4.0)},
    goals=(
        Goal("runs_short", "<=", 0, "every run exact (5/5)"),
        Goal("rows_off", "<=", 0, "every row once: none missing, none twice, none foreign"),
    ),
)
