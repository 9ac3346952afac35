"""The pool as operators see it in Ray: actor names in the pool's namespace, and the driver's TLS warning."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import ray
from pool_fakes import RecordingLogger

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors, wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]
#: Not the test session's namespace, so the workers are found here only if the coordinator names them into it.
NAMESPACE = "nepse_ray_dashboard"


def serving_ids(api: NepseWorkerAPI) -> list[str]:
    return sorted(w.worker_id for w in api.get_stats().workers if w.state == "serving")


def test_the_coordinator_and_workers_are_named_in_the_pools_namespace(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=2, max_workers=2, namespace=NAMESPACE, rate_per_token=50.0)
    pool = api.options.pool_name
    assert serving_ids(api) == ["w1", "w2"]
    ray.get_actor(pool, namespace=NAMESPACE)
    first = ray.get_actor(f"{pool}-worker-1", namespace=NAMESPACE)
    ray.get_actor(f"{pool}-worker-2", namespace=NAMESPACE)

    ray.kill(first, no_restart=True)  # dead for good: the pool replaces it with worker 3
    ray.get([api.remote.floorsheet(page=page, size=100) for page in range(20)])
    wait_until(lambda: serving_ids(api), lambda ids: ids == ["w2", "w3"], timeout=60)
    ray.get_actor(f"{pool}-worker-3", namespace=NAMESPACE)

    live = [info["Name"] for info in live_actors() if info["Name"].startswith(pool)]
    assert sorted(live) == [pool, f"{pool}-replica", f"{pool}-worker-2", f"{pool}-worker-3"]


def test_verify_false_warns_once_in_the_driver(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    logger = RecordingLogger()
    nepse_pool_factory(sim, verify=False, logger=logger)
    nepse_pool_factory(sim, verify=False, logger=logger)  # another pool for the same site: warned already
    warnings = [message for level, message in logger.lines if level == "warn"]
    assert len(warnings) == 1 and "TLS certificate verification is OFF" in warnings[0] and sim.base_url in warnings[0]
