"""Small cached answers given by the pool's replica actor on a local Ray cluster against the simulator: the same
values as through the coordinator, no HTTP while cached, expiry with the coordinator's entry, kills of the replica
and of the coordinator under pipelined refs, and a chaos run of faults and kills (``replica.py``,
``replica_actor.py``, ``routes.py``)."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import ray

from nepse_ray.bench.resilience import CHAOS_FAULTS, ChaosKiller
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.replica_actor import replica_name
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors, wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]


def _given_by_the_replica(api: NepseWorkerAPI, call: Callable[[], Any]) -> Any:
    """Call until the facade has sent a call to the replica (its list of cached answers is read every second)."""
    before = api.get_stats().replica_calls

    def probe() -> int:
        call()
        return api.get_stats().replica_calls - before

    wait_until(probe, lambda sent: sent > 0, timeout=30)
    return call()


def _replica(api: NepseWorkerAPI) -> Any:
    return ray.get_actor(replica_name(api.options), namespace=api.options.namespace)


def _from_copies(api: NepseWorkerAPI) -> int:
    hits: int = ray.get(_replica(api).ping.remote())["from_copies"]
    return hits


def test_cached_answers_come_from_the_replica_as_values_and_refs_without_http(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=2, max_workers=2, rate_per_token=50.0, cache_ttl={"top_gainers": 600})
    through_coordinator = api.top_gainers()
    sim.reset_stats()

    _given_by_the_replica(api, api.top_gainers)
    before = api.get_stats()
    values = [api.top_gainers() for _ in range(10)]
    refs = [api.remote.top_gainers() for _ in range(40)]
    resolved = ray.get(refs)

    after = api.get_stats()
    assert all(answer == through_coordinator for answer in [*values, *resolved])
    assert after.replica_calls - before.replica_calls == 50
    assert after.total_tasks_completed == before.total_tasks_completed  # none went through the coordinator's queue
    assert sim.stats()["requests_per_endpoint"].get("top_gainers") is None
    assert _from_copies(api) >= 49  # the replica asked the coordinator once at most, then gave its copy


def test_without_a_replica_the_coordinator_answers_cached_calls(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    api = nepse_pool_factory(sim, rate_per_token=50.0, cache_ttl={"top_gainers": 600}, replica=False)
    first = api.top_gainers()
    time.sleep(1.5)  # past the facade's refresh of its routes: a pool with a replica would route the calls now

    answers = [api.top_gainers() for _ in range(5)] + ray.get([api.remote.top_gainers() for _ in range(5)])

    stats = api.get_stats()
    assert answers == [first] * 10 and stats.replica_calls == 0 and stats.cache_hits == 10
    assert [a for a in live_actors(("PoolReplica",)) if a["Name"].startswith(api.options.pool_name)] == []


def test_the_replicas_copy_expires_with_the_coordinators_entry(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    ttl = 2.5
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=1, max_workers=1, rate_per_token=50.0, cache_ttl={"market_summary": ttl})
    _given_by_the_replica(api, api.market_summary)
    sim.reset_stats()

    start = time.monotonic()
    while time.monotonic() - start < 3 * ttl:  # calls keep coming, most of them given by the replica
        api.market_summary()
        time.sleep(0.05)

    fetched = sim.stats()["requests_per_endpoint"]["market_summary"]
    assert 2 <= fetched <= 5  # fetched again as each entry expired (every 2.5 s), not kept by the replica for good
    assert _from_copies(api) > 10


@pytest.mark.parametrize("victim", ["PoolReplica", "PoolCoordinator", "NepseWorker"])
def test_pipelined_cached_refs_survive_a_kill(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator], victim: str
) -> None:
    sim = nepse_sim_factory(trades=2_000, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=2, max_workers=2, rate_per_token=50.0, cache_ttl={"market_summary": 600})
    expected = _given_by_the_replica(api, api.market_summary)
    before = api.get_stats().replica_calls

    refs = [api.remote.market_summary() for _ in range(500)]
    pid = next(a["Pid"] for a in live_actors((victim,)) if a["Name"].startswith(api.options.pool_name))
    os.kill(pid, signal.SIGKILL)
    refs += [api.remote.market_summary() for _ in range(500)]

    assert ray.get(refs, timeout=120) == [expected] * 1000
    assert api.market_summary() == expected
    assert api.get_stats().replica_calls - before >= 500  # the kill came while the replica had the calls


CACHED = ("market_summary", "top_gainers", "top_losers", "supply_demand")


def test_cached_calls_under_faults_worker_kills_and_a_coordinator_kill_all_resolve_to_the_sites_answers(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    seed = random.SystemRandom().randrange(1_000_000)
    rng = random.Random(seed)
    sim = nepse_sim_factory(seed=seed, trades=2_000, rate_limit=None, latency_ms=20.0)
    api = nepse_pool_factory(
        sim,
        min_workers=3,
        max_workers=3,
        rate_per_token=20.0,
        backoff_base=0.05,
        backoff_cap=0.5,
        cache_ttl=dict.fromkeys(CACHED, 1.5),  # short: answers keep leaving the cache and are fetched again
    )
    expected = {name: getattr(api, name)() for name in CACHED}
    _given_by_the_replica(api, api.market_summary)
    sim.configure(**{fault: rng.uniform(0.02, 0.05) for fault in CHAOS_FAULTS})
    killer = ChaosKiller(api.options.pool_name, rng, coordinator_at=0, interval=(1.0, 2.0))

    killer.start()
    answers: list[tuple[str, Any]] = []
    turns = 0
    try:
        while turns < 12 or killer.kills.count("NepseWorker") < 3:  # at least three worker kills, however fast
            turns += 1
            if turns == 4:
                (coordinator,) = [a for a in live_actors(("PoolCoordinator",)) if a["Name"] == api.options.pool_name]
                os.kill(coordinator["Pid"], signal.SIGKILL)
            names = [rng.choice(CACHED) for _ in range(200)]
            refs = [getattr(api.remote, name)() for name in names]
            answers += [(name, getattr(api, name)()) for name in CACHED]
            answers += zip(names, ray.get(refs, timeout=120), strict=True)
    finally:
        killer.stop.set()
        killer.join()

    seen = f"seed {seed}, kills {killer.kills}"
    wrong = [name for name, answer in answers if answer != expected[name]]
    assert wrong == [] and len(answers) == turns * 204, seen
    assert api.get_stats().replica_calls > 1000, seen
