"""Workers and the coordinator killed with SIGKILL mid-run: every result still arrives exactly once."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
import ray

from nepse_ray.nepse.models import FloorsheetResponse
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors, wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]
PAGE_SIZE = 250


@pytest.fixture
def backlog_sim(nepse_sim_factory: Callable[..., Simulator]) -> Simulator:
    return nepse_sim_factory(trades=120 * PAGE_SIZE, rate_limit=None)


def submit_pages(api: NepseWorkerAPI, pages: int) -> list[Any]:
    return [api.remote.floorsheet(page=page, size=PAGE_SIZE) for page in range(pages)]


def wait_for_results(refs: list[Any], count: int) -> None:
    ready, _ = ray.wait(refs, num_returns=count, timeout=120)
    assert len(ready) == count


def assert_each_page_once(pages: list[FloorsheetResponse], expected: int) -> None:
    assert sorted(page.floorsheets.number for page in pages) == list(range(expected))
    contract_ids = [row.contract_id for page in pages for row in page.floorsheets.content]
    assert len(contract_ids) == len(set(contract_ids)) == expected * PAGE_SIZE


def worker_pids(api: NepseWorkerAPI) -> dict[str, int]:
    return {info["worker_id"]: info["pid"] for info in api.ping_workers() if "pid" in info}


def test_killed_workers_are_restarted_or_replaced(nepse_pool_factory: PoolFactory, backlog_sim: Simulator) -> None:
    api = nepse_pool_factory(backlog_sim, min_workers=2, max_workers=2, rate_per_token=8.0, max_restarts=1)
    refs = submit_pages(api, 120)
    first, second = sorted(worker_pids(api))

    wait_for_results(refs, 20)
    old_pid = worker_pids(api)[first]
    os.kill(old_pid, signal.SIGKILL)  # restart 1 of 1: Ray restarts it in place
    wait_until(lambda: worker_pids(api).get(first), lambda pid: pid not in (None, old_pid), timeout=60)

    wait_for_results(refs, 50)
    os.kill(worker_pids(api)[first], signal.SIGKILL)  # restarts used up: the pool replaces it

    wait_for_results(refs, 80)
    os.kill(worker_pids(api)[second], signal.SIGKILL)

    assert_each_page_once(ray.get(refs), 120)
    # Pinging notices a restart even if the last kill landed between requests.
    stats = wait_until(
        lambda: (api.ping_workers(), api.get_stats())[1],
        lambda s: s.worker_restarts >= 2 and s.total_workers == 2 and s.quarantined_workers == 0,
        timeout=60,
    )
    assert stats.worker_replacements >= 1
    assert stats.total_tasks_completed == 120 and stats.total_errors == 0


def test_killed_coordinator_is_restarted_and_loses_nothing(
    nepse_pool_factory: PoolFactory, backlog_sim: Simulator
) -> None:
    api = nepse_pool_factory(backlog_sim, min_workers=2, max_workers=2, rate_per_token=8.0)
    refs = submit_pages(api, 80)
    wait_for_results(refs, 15)
    before = {info["ActorID"]: info for info in live_actors()}
    (coordinator,) = [info for info in before.values() if info["ActorClassName"] == "PoolCoordinator"]
    old_workers = {actor_id for actor_id, info in before.items() if info["ActorClassName"] == "NepseWorker"}
    assert len(old_workers) == 2

    os.kill(coordinator["Pid"], signal.SIGKILL)

    assert_each_page_once(ray.get(refs), 80)
    alive = {info["ActorID"] for info in live_actors()}
    assert not old_workers & alive  # the old workers died with their owner
    assert coordinator["ActorID"] in alive
    wait_until(api.get_stats, lambda s: s.total_workers == 2, timeout=60)
    api.shutdown()
    assert live_actors() == []
