"""A worker holding several tokens (``tokens_per_worker``) on a local Ray cluster: one actor, one client per token,
requests taken in turn, each token kept to the site's per-token limit."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import pull_floorsheet
from nepse_ray.sim import Simulator

pytestmark = pytest.mark.ray

TOKENS = 3


def test_one_worker_with_three_tokens_pulls_at_three_tokens_share_without_a_violation(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=15_000, rate_limit=2.0, burst=1)
    api = nepse_pool_factory(sim, min_workers=1, max_workers=1, tokens_per_worker=TOKENS, rate_per_token=2.0)

    result = pull_floorsheet(api)

    assert result.rows == result.expected == 15_000
    served = sim.stats()
    assert served["rate_limit_violations"] == 0
    per_token = sorted(served["requests_per_token"].values())
    assert len(per_token) == TOKENS and sum(per_token) >= result.pages
    assert per_token[0] >= sum(per_token) // (2 * TOKENS)  # the load goes round the tokens
    (worker,) = api.ping_workers()
    assert worker["tokens"] == TOKENS and worker["client"]["proves"] == TOKENS
    stats = api.get_stats()
    assert len(stats.workers) == 1 and stats.total_tasks_completed >= result.pages
