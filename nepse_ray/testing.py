"""pytest fixtures for nepse-ray (registered through the ``pytest11`` entry point).

Installing nepse-ray loads this plugin into every pytest run, so it changes nothing by being loaded: no hooks, no
environment variables, no Ray import. Each fixture sets what it needs for its own scope and puts it back at teardown.

* ``nepse_ray_cluster`` (session): starts its own local Ray instance (``address="local"``, so ``RAY_ADDRESS``
  cannot send it to another cluster) with a short temp dir of its own, no dashboard, on 127.0.0.1, and shuts it
  down at the end. For the session it sets ``RAY_USAGE_STATS_ENABLED=0`` and ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
  and, unless ``RAY_AUTH_MODE=disabled`` or a token is configured, keeps Ray's token auth on with a fresh token in
  the temp dir (``RAY_AUTH_TOKEN_PATH``) instead of writing ``~/.ray/auth_token``; what ``ray.init`` sets in the
  environment (``RAY_AUTH_MODE``, ``PYTHONBREAKPOINT``) is put back at the end. If the process is already
  connected to Ray, it uses that connection and changes nothing. Yields Ray's ``address_info`` dict.
* ``nepse_sim`` (function): a NEPSE :class:`~nepse_ray.sim.Simulator` on loopback with default settings;
  ``nepse_sim_factory`` builds simulators with custom settings (``nepse_sim_factory(trades=100_000)``).
* ``nepse_pool_factory`` (function): ``nepse_pool_factory(sim, **options)`` creates a
  :class:`~nepse_ray.pool.api.NepseWorkerAPI` with a unique pool name against the session cluster and ``sim``,
  and shuts every pool it made down at teardown.

:func:`live_actors` lists the actors Ray's GCS still holds alive, for "nothing is left behind" checks without the
dashboard-backed state API; :func:`wait_until` polls a condition with a deadline instead of sleeping blindly.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from nepse_ray.local_ray import private_ray

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI
    from nepse_ray.sim import Simulator

TEST_NAMESPACE = "nepse_ray_tests"

T = TypeVar("T")


@pytest.fixture(scope="session")
def nepse_ray_cluster() -> Iterator[dict[str, Any]]:
    """A private local Ray instance for the whole session (or the one this process is already connected to)."""
    import ray

    if ray.is_initialized():
        yield {"gcs_address": ray.get_runtime_context().gcs_address}
        return
    with private_ray(TEST_NAMESPACE) as address_info:
        yield address_info


@pytest.fixture
def nepse_sim_factory() -> Iterator[Callable[..., Simulator]]:
    """Build simulators on loopback: ``nepse_sim_factory(trades=100_000, fault_5xx=0.1)``; all stop at teardown."""
    from nepse_ray.sim import Simulator

    started: list[Simulator] = []

    def make(**config: Any) -> Simulator:
        config.setdefault("seed", 1)
        sim = Simulator(**config)
        started.append(sim)
        return sim

    yield make
    for sim in reversed(started):
        sim.close()


@pytest.fixture
def nepse_sim(nepse_sim_factory: Callable[..., Simulator]) -> Simulator:
    """A simulator with default settings (2 req/s per token, 50,000 trades)."""
    return nepse_sim_factory()


_pool_numbers = itertools.count(1)


@pytest.fixture
def nepse_pool_factory(nepse_ray_cluster: dict[str, Any]) -> Iterator[Callable[..., NepseWorkerAPI]]:
    """Create pools against the session cluster: ``nepse_pool_factory(sim, max_workers=3)``; all shut down after."""
    from nepse_ray.pool.api import NepseWorkerAPI

    pools: list[NepseWorkerAPI] = []

    def make(sim: Simulator | None = None, **options: Any) -> NepseWorkerAPI:
        options.setdefault("pool_name", f"test-pool-{next(_pool_numbers)}-{uuid.uuid4().hex[:6]}")
        options.setdefault("namespace", TEST_NAMESPACE)
        if sim is not None:
            options.setdefault("base_url", sim.base_url)
        api = NepseWorkerAPI(**options)
        pools.append(api)
        return api

    yield make
    for api in pools:
        api.shutdown(drain=False)


def live_actors(
    class_names: tuple[str, ...] = ("PoolCoordinator", "NepseWorker", "PoolReplica"),
) -> list[dict[str, Any]]:
    """Actors of ``class_names`` that Ray's GCS does not list as DEAD (needs no dashboard)."""
    from ray._private import state

    return [
        info for info in state.actors().values() if info["ActorClassName"] in class_names and info["State"] != "DEAD"
    ]


def wait_until(probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 0.1) -> T:
    """Call ``probe`` until ``done(value)`` holds and return that value; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not reached within {timeout:g} s; last value: {value!r}")
        time.sleep(interval)
