"""The scale-out scenario: pools of fixed shapes (workers x tokens per worker) held at full speed, then a whole
floorsheet pull, with the CPU a 500-row page costs in every process of a pull, Ray's own included."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import psutil

from ..pool.api import NepseWorkerAPI
from ..pool.direct import DirectRequest
from ..pulls import pull_floorsheet
from ..pulls.source import PoolPageSource, default_window
from .context import (
    PAGE_ROWS,
    RATE_PER_TOKEN,
    BenchContext,
    coordinator_process,
    cpu_seconds,
    share_of_limit,
    warm,
    worker_processes,
)
from .host import loop_ms
from .report import Goal, Value
from .scenario import Scenario

T = TypeVar("T")


def _cpu_by_role(context: BenchContext, api: NepseWorkerAPI, sim_pid: int) -> dict[str, list[psutil.Process]]:
    """This run's processes by role: the pool's workers and coordinator, the simulator, the driver, and Ray's own
    (GCS, raylet, idle worker processes: every other process of the run but the other, idle, simulators)."""
    roles = {
        "workers": worker_processes(api),
        "coordinator": [coordinator_process(api)],
        "simulator": [psutil.Process(sim_pid)],
        "driver": [psutil.Process()],
    }
    known = {process.pid for group in roles.values() for process in group} | context.simulator_pids()
    roles["ray"] = [process for process in context.driver_processes() if process.pid not in known]
    return roles


def _role_seconds(roles: Mapping[str, list[psutil.Process]]) -> dict[str, float]:
    return {role: sum(map(cpu_seconds, group)) for role, group in roles.items()}


def _measured(roles: Mapping[str, list[psutil.Process]], run: Callable[[], T]) -> tuple[T, dict[str, float], float]:
    """``run()``'s result, the CPU seconds each role spent meanwhile, and the seconds it took."""
    before, started = _role_seconds(roles), time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - started
    return result, {role: seconds - before[role] for role, seconds in _role_seconds(roles).items()}, elapsed


def _fetch_pages(source: PoolPageSource, pages: list[int], window: int) -> int:
    """Every page of ``pages`` through ``source``, ``window`` in flight as a pull keeps them; pages answered."""
    todo, answered = list(pages), 0
    in_flight: set[DirectRequest] = set()
    while todo or in_flight:
        while todo and len(in_flight) < window:
            in_flight.add(source.submit("floorsheet", {"page": todo.pop(), "size": PAGE_ROWS}))
        for handle, answer in source.wait(list(in_flight), timeout=1.0):
            in_flight.discard(handle)
            if isinstance(answer, Exception):
                raise answer
            answered += 1
    return answered


def _steady(api: NepseWorkerAPI, roles: Mapping[str, list[psutil.Process]], p: Mapping[str, Any]) -> dict[str, Any]:
    """The pull's path held at full speed for ``seconds``: share of the limit and CPU per page by role, gross and
    net of each role's idle rate (measured first, for ``idle_seconds``, with the pool up and nothing asked), and the
    host's speed just before and after (``host.loop_ms``, their mean; outside the measured windows).

    Pages are full 500-row pages of the day, none past its end. ``warmup_seconds`` of them go first, unmeasured:
    a worker's first pages pay one-off costs (its HTTP connections, its first buffers) that are not steady state.
    """
    tokens, window = api.options.tokens, default_window(api)
    count = tokens + int(p["seconds"] * RATE_PER_TOKEN * tokens)
    pages = [1 + number % (p["pages"] - 1) for number in range(count)]
    source = PoolPageSource(api)
    try:
        _fetch_pages(source, pages[-int(p["warmup_seconds"] * RATE_PER_TOKEN * tokens) :], window)
        loops = [loop_ms(repeats=3)]
        time.sleep(1.0 / RATE_PER_TOKEN)
        _, idle, idle_elapsed = _measured(roles, lambda: time.sleep(p["idle_seconds"]))
        answered, spent, elapsed = _measured(roles, lambda: _fetch_pages(source, pages, window))
        loops.append(loop_ms(repeats=3))
    finally:
        source.close()
    idle_rate = {role: seconds / idle_elapsed for role, seconds in idle.items()}
    return {
        "loop_ms": sum(loops) / len(loops),
        "fraction": share_of_limit(answered, tokens, elapsed),
        "gross": {role: 1000 * seconds / answered for role, seconds in spent.items()},
        "net": {role: 1000 * (seconds - idle_rate[role] * elapsed) / answered for role, seconds in spent.items()},
    }


def _whole_pull(api: NepseWorkerAPI, roles: Mapping[str, list[psutil.Process]]) -> dict[str, Any]:
    """``pull_floorsheet`` of the whole day (page 0 first, the tail, the completeness check): share, CPU/page."""
    result, spent, elapsed = _measured(roles, lambda: pull_floorsheet(api))
    tokens = api.options.tokens
    return {
        "fraction": share_of_limit(result.pages, tokens, elapsed),
        "gross": {role: 1000 * seconds / result.pages for role, seconds in spent.items()},
    }


def _total(cpu: Mapping[str, float]) -> Value:
    """CPU per page summed over every process of the run: the pool's, the driver's, the simulator's and Ray's."""
    return Value(sum(cpu.values()), "ms/page")


def scale_out(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """Pools of fixed sizes: the pull's path held at full speed (steady state), then a whole floorsheet pull.

    Each shape is ``(workers, tokens_per_worker)``; W counts tokens (the limit is 2 req/s x W). Steady state is
    what the goals judge, at the two ``judged`` shapes: ``spread`` (one token per worker) and ``packed`` (several
    tokens per worker) at the same W, the issue's figures being a pool at full speed. The whole pull adds one
    pull's fixed costs (page 0 alone first, the tail, the completeness check) and is reported beside it. CPU per
    page (``cpu_total_*``) sums every process of the run: the workers, the coordinator, the driver, the simulator
    and Ray's own (GCS, raylet, idle workers), each reported by role at the judged shapes; ``net_`` subtracts
    each process's idle rate. ``loop_ms_*`` is how fast the host ran then (``host.py``): the same code's CPU
    figures move with it.
    """
    sim = context.simulator(p["pages"] * PAGE_ROWS)
    judged = {tuple(shape): label for label, shape in p["judged"].items()}
    values: dict[str, Value] = {}
    violations = 0
    for workers, per_worker in p["shapes"]:
        api = context.pool(sim, min_workers=workers, max_workers=workers, tokens_per_worker=per_worker)
        try:
            warm(api, workers)
            sim.reset_stats()
            roles = _cpu_by_role(context, api, sim.pid)
            steady = _steady(api, roles, p)
            time.sleep(1.0 / RATE_PER_TOKEN)
            whole = _whole_pull(api, roles)
            violations += sim.stats()["rate_limit_violations"]
        finally:
            api.shutdown(drain=False)
        tokens = workers * per_worker
        shape = f"w{tokens}" if per_worker == 1 else f"w{tokens}_{workers}x{per_worker}"
        values[f"fraction_{shape}"] = Value(steady["fraction"], "of W x 2 req/s")
        values[f"pull_fraction_{shape}"] = Value(whole["fraction"], "of W x 2 req/s")
        values[f"cpu_total_{shape}"] = _total(steady["gross"])
        label = judged.get((workers, per_worker))
        if label is not None:
            values[f"fraction_{label}"] = values[f"fraction_{shape}"]
            values |= {f"cpu_{label}_{role}": Value(ms, "ms/page") for role, ms in steady["gross"].items()}
            values[f"cpu_total_{label}"] = values[f"cpu_total_{shape}"]
            values[f"net_cpu_total_{label}"] = _total(steady["net"])
            values[f"pull_cpu_total_{label}"] = _total(whole["gross"])
            values[f"loop_ms_{label}"] = Value(steady["loop_ms"], "ms")
    values["violations"] = Value(violations, "")
    return values


SCENARIOS = (
    Scenario(
        "scale-out",
        "a pool fixed at W = 5..20 at full speed, then a whole floorsheet pull: share of the limit, CPU per page in "
        "every process (Ray's included); judged at 15 tokens spread one per worker and packed 3 per worker",
        scale_out,
        full={
            "shapes": [[5, 1], [10, 1], [15, 1], [20, 1], [5, 3]],
            "judged": {"spread": [15, 1], "packed": [5, 3]},
            "pages": 400,
            "seconds": 9.0,
            "warmup_seconds": 3.0,
            "idle_seconds": 3.0,
        },
        quick={
            "shapes": [[5, 1], [1, 5]],
            "judged": {"spread": [5, 1], "packed": [1, 5]},
            "pages": 60,
            "seconds": 4.0,
            "warmup_seconds": 1.0,
            "idle_seconds": 1.0,
        },
        goals=(
            Goal("fraction_packed", ">=", 0.90, ">= 0.90 of the limit at W = 15 tokens in 5 workers (quick: 5 in 1)"),
            Goal("fraction_w5", ">=", 0.90, ">= 0.90 at W = 5, one token per worker"),
            Goal("violations", "<=", 0, "0 rate violations"),
            Goal("cpu_total_spread", "<=", 15.0, "<= 15 ms CPU per page in every process, Ray's included: 15 x 1"),
            Goal("cpu_total_packed", "<=", 15.0, "the same at 5 workers x 3 tokens (quick: 5 x 1 and 1 x 5)"),
            Goal("cpu_packed_coordinator", "<=", 2.0, "coordinator <= 2 ms per page"),
        ),
    ),
)
