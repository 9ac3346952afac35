"""The pool against the simulator's incomplete chain: workers and coordinator with verification on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import pull_floorsheet
from nepse_ray.sim import Simulator

pytestmark = pytest.mark.ray


def test_the_pool_pulls_a_day_with_verification_on(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(tls="incomplete-chain", trades=2_600, rate_limit=None)
    api = nepse_pool_factory(sim, ca_bundle=sim.ca_bundle, min_workers=2, max_workers=2, rate_per_token=50.0)
    assert api.options.verify is True
    day = pull_floorsheet(api)
    assert (day.rows, day.complete) == (2_600, True)
    assert len(set(day.to_arrow().column("contract_id").to_pylist())) == 2_600
    assert 1 <= sim.aia_fetches() <= 2  # only workers sent requests: at most once per worker process
