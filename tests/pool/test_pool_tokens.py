"""A worker holding several tokens (``tokens_per_worker``) on a local Ray cluster: one actor, one client per token,
requests taken in turn, each token kept to the site's per-token limit."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import Any

import pytest

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import Progress, pull_floorsheet
from nepse_ray.sim import Simulator
from nepse_ray.testing import wait_until

pytestmark = pytest.mark.ray

TOKENS = 3


def test_one_worker_with_three_tokens_pulls_at_three_tokens_share_without_a_violation(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=15_000, rate_limit=2.0, burst=1, on_excess="429")
    # Each token paced a little under the site's limit: the test is about every token keeping its own pace, not
    # about the host's scheduling jitter (which the throughput benchmark measures at the limit itself).
    api = nepse_pool_factory(sim, min_workers=1, max_workers=1, tokens_per_worker=TOKENS, rate_per_token=1.8)

    result = pull_floorsheet(api)

    assert result.rows == result.expected == 15_000
    served = sim.stats()
    assert served["rate_limit_violations"] == 0
    per_token = sorted(served["requests_per_token"].values())
    assert len(per_token) == TOKENS and sum(per_token) >= result.pages
    assert per_token[0] >= sum(per_token) // (2 * TOKENS)  # the load goes round the tokens
    (worker,) = api.ping_workers()
    assert worker["tokens"] == TOKENS and worker["client"]["proves"] >= TOKENS
    stats = api.get_stats()
    assert len(stats.workers) == 1 and stats.total_tasks_completed >= result.pages


def test_a_killed_worker_comes_back_with_all_its_tokens_and_the_pull_loses_nothing(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=8_000, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=2, max_workers=2, tokens_per_worker=2, rate_per_token=20.0)
    victim = api.ping_workers()[0]["pid"]
    killed: list[int] = []

    def kill_once(progress: Progress) -> None:
        if progress.pages_done >= 4 and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    result = pull_floorsheet(api, on_progress=kill_once)

    assert killed and result.complete and result.rows == 8_000
    first = sim.stats()["first_contract_id"]
    assert result.to_arrow().column("contract_id").to_pylist() == list(range(first + 7_999, first - 1, -1))

    def back(workers: list[dict[str, Any]]) -> bool:  # a worker that cannot answer yet is listed with an "error"
        return len(workers) == 2 and all(worker.get("pid") not in (None, victim) for worker in workers)

    workers = wait_until(api.ping_workers, back, timeout=60)
    assert all(worker["tokens"] == 2 for worker in workers)
