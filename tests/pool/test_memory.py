"""Memory after a backlog (``pool/memory.py``): when a drained backlog hands memory back, what that does, and the
allocator the coordinator's process runs with."""

from __future__ import annotations

import gc
from collections.abc import Callable

import psutil
import pytest

from nepse_ray.pool import memory
from nepse_ray.pool.actor import coordinator_actor_options
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.memory import DRAINED_BACKLOG, PYMALLOC_QUEUE, BacklogWatch, release_memory
from nepse_ray.pool.options import PoolOptions
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors


def test_a_drained_backlog_of_the_threshold_is_reported_once() -> None:
    watch = BacklogWatch(threshold=3)
    for pending in (1, 2, 3):
        watch.accepted(pending)

    assert not watch.drained(pending=2)  # not drained yet
    assert watch.drained(pending=0)
    assert not watch.drained(pending=0)  # once per backlog


def test_a_backlog_below_the_threshold_is_never_reported() -> None:
    watch = BacklogWatch(threshold=3)
    for _ in range(10):  # many requests, but never three pending at once
        watch.accepted(1)
        watch.accepted(2)

    assert not watch.drained(pending=0)


def test_each_large_backlog_is_reported_after_its_own_drain() -> None:
    watch = BacklogWatch()
    reports = []
    for size in (DRAINED_BACKLOG, 10, DRAINED_BACKLOG + 1):
        for pending in range(1, size + 1):
            watch.accepted(pending)
        reports.append(watch.drained(pending=0))

    assert reports == [True, False, True]


class FakeLibc:
    def __init__(self) -> None:
        self.trims: list[int] = []

    def malloc_trim(self, pad: int) -> int:
        self.trims.append(pad)
        return 1


def test_release_memory_trims_every_heap_of_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    libc = FakeLibc()
    monkeypatch.setattr(memory, "_LIBC", libc)

    release_memory()

    assert libc.trims == [0]  # pad 0: give back every free page at the top and inside the heaps


def test_release_memory_without_glibc_only_collects(monkeypatch: pytest.MonkeyPatch) -> None:
    collected: list[int] = []

    def collect() -> int:
        collected.append(1)
        return 0

    monkeypatch.setattr(memory, "_LIBC", None)
    monkeypatch.setattr(gc, "collect", collect)

    release_memory()

    assert collected == [1]


def test_a_coordinator_that_may_hold_a_large_backlog_runs_python_on_glibc_malloc() -> None:
    large = coordinator_actor_options(PoolOptions(max_queued=PYMALLOC_QUEUE + 1))
    default = coordinator_actor_options(PoolOptions())

    assert large["runtime_env"] == {"env_vars": {"PYTHONMALLOC": "malloc"}}
    assert "runtime_env" not in default  # a process Ray keeps ready: the pool starts sooner


@pytest.mark.ray
def test_the_coordinator_process_has_the_allocator_environment(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    api = nepse_pool_factory(
        nepse_sim_factory(trades=2_000), min_workers=1, max_workers=1, max_queued=PYMALLOC_QUEUE + 1
    )
    (coordinator,) = [info for info in live_actors(("PoolCoordinator",)) if info["Name"] == api.options.pool_name]

    environment = psutil.Process(int(coordinator["Pid"])).environ()

    assert environment.get("PYTHONMALLOC") == "malloc"
