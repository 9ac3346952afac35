"""Auto-scaling under a floorsheet backlog, with the simulator enforcing 2 requests/s per token."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import ray

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import SimulatorProcess
from nepse_ray.testing import wait_until

pytestmark = pytest.mark.ray

PAGES = 200


def test_backlog_scales_up_to_max_and_back_to_min(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], request: pytest.FixtureRequest
) -> None:
    # Strict and countable, in a process of its own as the site is: an in-process simulator shares the GIL with the
    # driver, whose prefetch thread validates pages meanwhile, and requests stamped late together count as violations.
    sim = SimulatorProcess(trades=PAGES * 500, rate_limit=2.0, burst=1, on_excess="429")
    request.addfinalizer(sim.close)
    api = nepse_pool_factory(sim, min_workers=1, max_workers=5, idle_timeout=2.0)
    assert api.get_stats().total_workers == 1

    refs = [api.remote.floorsheet(page=page) for page in range(PAGES)]
    peak = 0
    pending = refs
    while pending:
        _, pending = ray.wait(pending, num_returns=min(20, len(pending)))
        peak = max(peak, api.get_stats().total_workers)
    pages = ray.get(refs)

    assert sorted(page.floorsheets.number for page in pages) == list(range(PAGES))
    contract_ids = [row.contract_id for page in pages for row in page.floorsheets.content]
    assert len(contract_ids) == len(set(contract_ids)) == PAGES * 500
    assert peak == 5
    served = sim.stats()
    assert served["rate_limit_violations"] == 0, served
    assert served["tokens_issued"] == 5

    stats = wait_until(api.get_stats, lambda s: s.total_workers == 1, timeout=30)
    assert stats.scale_up_events >= 1 and stats.scale_down_events >= 1
    assert stats.total_tasks_completed == PAGES and stats.total_errors == 0
