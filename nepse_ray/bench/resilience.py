"""Elasticity and recovery scenarios: a backlog scaling the pool up and idleness scaling it down, and the time from
a SIGKILL (a worker's, the coordinator's) to the first call answered again."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from typing import Any

import ray

from ..pool.api import NepseWorkerAPI
from ..pool.stats import PoolStats
from .context import BenchContext, coordinator_process, warm
from .report import Goal, Value
from .scenario import Scenario

DAY_TRADES = 5_000
POLL = 0.05


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
    """SIGKILL the only worker, then the coordinator; seconds from each kill to the next answered call."""
    sim = context.simulator(DAY_TRADES)
    api = context.pool(sim, min_workers=1, max_workers=1)
    pages = iter(range(1_000_000))
    try:
        warm(api, 1)
        (worker,) = [w.pid for w in api.get_stats().workers]
        assert worker is not None
        os.kill(worker, signal.SIGKILL)
        worker_seconds = _first_success(lambda: api.floorsheet(page=next(pages), size=1))
        coordinator = coordinator_process(api)
        time.sleep(1.0)
        coordinator.send_signal(signal.SIGKILL)
        coordinator_seconds = _first_success(lambda: api.floorsheet(page=next(pages), size=1))
    finally:
        api.shutdown(drain=False)
    return {"worker_kill_s": Value(worker_seconds, "s"), "coordinator_kill_s": Value(coordinator_seconds, "s")}


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
        "SIGKILL of the only worker, then of the coordinator: seconds to the first successful call",
        recovery,
        full={},
        quick={},
        goals=(
            Goal("worker_kill_s", "<=", 1.0, "worker kill -> first success <= 1 s"),
            Goal("coordinator_kill_s", "<=", 5.0, "coordinator kill -> first success <= 5 s"),
        ),
    ),
)
