"""The pool facade on a local Ray cluster against the simulator: values, ObjectRefs, errors, stats, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from typing import Any

import pytest
import ray
import requests
from pydantic import ValidationError

from nepse_ray.nepse.errors import (
    NepseClientRequestError,
    NepseError,
    NepseForbiddenError,
    NepseInputError,
    NepseServerError,
)
from nepse_ray.nepse.models import FloorsheetResponse, MarketOpen
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.errors import PoolConfigError
from nepse_ray.pool.stats import PoolStats
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors, wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]
#: Retries that do not slow the suite down.
FAST_RETRIES: dict[str, Any] = {"backoff_base": 0.01, "backoff_cap": 0.02}


@pytest.fixture
def quick_sim(nepse_sim_factory: Callable[..., Simulator]) -> Simulator:
    """No per-token limit, a small market: for tests about behaviour, not pacing."""
    return nepse_sim_factory(trades=5_000, rate_limit=None)


def test_concurrent_access_tokens_are_valid(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, max_workers=3, rate_per_token=50.0)
    tokens = ray.get([api.remote.get_access_token() for _ in range(100)])

    assert len(tokens) == 100
    assert all(isinstance(token, str) and len(token) == len(tokens[0]) > 20 for token in tokens)
    answer = requests.get(
        quick_sim.base_url + "/api/nots/nepse-data/market-open",
        headers={"Authorization": f"Salter {tokens[-1]}", "Referer": quick_sim.base_url + "/"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["id"] == api.get_market_id()


def test_object_ref_form_works_with_get_wait_await_and_tasks(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator
) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=50.0)
    refs = [api.remote.floorsheet(page=page, size=100) for page in range(3)]

    ready, not_ready = ray.wait(refs, num_returns=3, timeout=60)
    assert len(ready) == 3 and not not_ready
    pages = ray.get(refs)
    assert [page.floorsheets.number for page in pages] == [0, 1, 2]
    assert all(isinstance(page, FloorsheetResponse) for page in pages)

    async def awaited() -> Any:
        return await api.remote.market_open()

    assert isinstance(asyncio.run(awaited()), MarketOpen)

    @ray.remote(num_cpus=0)
    def count_rows(page: FloorsheetResponse) -> int:
        return len(page.floorsheets.content)

    assert ray.get(count_rows.remote(api.remote.floorsheet(page=1, size=50))) == 50


def test_values_and_session_methods(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=50.0)

    assert api.get_market_id() == quick_sim.config.market_id
    assert isinstance(api.get_market_status(), MarketOpen)
    assert len(api.get_salts()) == 5
    assert isinstance(api.get_post_payload_id(), int)
    assert isinstance(api.get_post_payload_id_for_floor_sheet(), int)
    symbols = api.get_security_symbol_id_map()
    assert symbols and len(api.get_security_brief()) == len(symbols)
    assert api.floorsheet(page=0, size=10).floorsheets.total_elements == 5_000


def test_bad_options_are_validation_errors() -> None:
    with pytest.raises(ValidationError, match="min_workers"):
        NepseWorkerAPI(min_workers=4, max_workers=2)
    with pytest.raises(ValidationError, match="base_url"):
        NepseWorkerAPI(base_url="ftp://example.com")


def test_worker_that_cannot_start_fails_the_pool_with_its_reason(nepse_pool_factory: PoolFactory) -> None:
    with pytest.raises(NepseInputError, match=r"ca_bundle '/nonexistent\.pem' does not exist"):
        nepse_pool_factory(base_url="http://127.0.0.1:9", ca_bundle="/nonexistent.pem")
    wait_until(live_actors, lambda actors: actors == [], timeout=30)  # workers die with their coordinator


def test_bad_arguments_fail_before_anything_is_submitted(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim)
    before = api.get_stats()
    requests_before = quick_sim.stats()["requests_total"]

    with pytest.raises(NepseInputError, match="page must not be negative"):
        api.floorsheet(page=-1)
    with pytest.raises(NepseInputError, match="missing required argument security_id"):
        api.remote._request("market_depth", {})
    with pytest.raises(NepseInputError, match="unknown request"):
        api.submit("drop_tables", {})
    with pytest.raises(NepseInputError, match="takes no arguments"):
        api.submit("get_market_id", {"page": 1})

    after = api.get_stats()
    assert after.total_tasks_completed == before.total_tasks_completed
    assert after.total_errors == before.total_errors
    assert quick_sim.stats()["requests_total"] == requests_before


def test_retryable_error_reaches_caller_after_retries(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, max_retries=2, rate_per_token=50.0, **FAST_RETRIES)
    api.get_market_id()  # handshake before the fault is switched on
    quick_sim.configure(fault_5xx=1.0)

    with pytest.raises(NepseServerError) as caught:
        api.market_summary()
    assert caught.value.status == 502
    with pytest.raises(NepseServerError):  # the ObjectRef form raises an instance of the same class
        ray.get(api.remote.market_summary())

    stats = api.get_stats()
    assert stats.retries == 4 and stats.total_errors == 2


def test_a_403_gets_one_fresh_token_in_the_worker_then_the_pools_bounded_retries(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator
) -> None:
    api = nepse_pool_factory(quick_sim, max_retries=1, rate_per_token=50.0, **FAST_RETRIES)
    api.get_market_id()
    quick_sim.configure(fault_403=1.0)
    quick_sim.reset_stats()

    with pytest.raises(NepseForbiddenError) as caught:
        api.market_summary()

    assert caught.value.status == 403 and not caught.value.retryable
    # The worker's token refused even fresh: tried once more as another token would be (the pool has one worker, so
    # the same one), then the same token refusing again is a failure within max_retries=1.
    assert api.get_stats().retries == 2
    served = quick_sim.stats()
    # The request and market-open with the fresh token; then twice market-open with two fresh tokens each time.
    assert served["faults_injected"] == {"403": 6} and served["tokens_issued"] == 5


def test_non_retryable_error_is_not_retried(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, max_retries=3, rate_per_token=50.0, **FAST_RETRIES)
    api.get_market_id()
    quick_sim.reset_stats()

    with pytest.raises(NepseClientRequestError) as caught:
        api.market_depth(security_id=999_999)
    assert caught.value.status == 404
    assert isinstance(caught.value, NepseError) and not caught.value.retryable
    assert api.get_stats().retries == 0
    assert quick_sim.stats()["requests_per_endpoint"].get("market_depth") == 1


def test_stats_are_complete_and_free_of_secrets(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=50.0)
    token = api.get_access_token()
    salts = api.get_salts()
    ray.get([api.remote.floorsheet(page=page, size=10) for page in range(5)])

    stats = api.get_stats()
    assert isinstance(stats, PoolStats)
    # The two session calls went straight to a worker; the five requests went through the coordinator.
    assert stats.session_calls == 2
    assert stats.total_tasks_completed == 5 and stats.total_errors == 0
    assert stats.total_workers >= 1 and stats.busy_workers + stats.idle_workers == stats.total_workers
    assert sum(stats.requests_per_worker.values()) == 5
    assert stats.latency_p50 is not None and stats.latency_p95 is not None
    assert stats.latency_p50 <= stats.latency_p95
    shown = [repr(stats), str(stats), stats._repr_html_(), repr(api)]
    for text in shown:
        assert token not in text
        assert not any(str(salt) in text for salt in salts)
    assert token not in stats.model_dump_json()
    assert stats._repr_html_().startswith("<table")


def test_shutdown_leaves_no_actors(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, min_workers=2, max_workers=2)
    api.market_open()
    assert len(live_actors()) == 4  # the coordinator, its replica and two workers

    api.shutdown()

    assert live_actors() == []
    assert api.options.pool_name not in [entry["name"] for entry in ray.util.list_named_actors(all_namespaces=True)]
    with pytest.raises(NepseError, match="shut down"):
        api.market_open()


def test_pools_with_the_same_name_are_shared_and_only_their_creator_or_force_stops_them(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator
) -> None:
    first = nepse_pool_factory(quick_sim, rate_per_token=50.0)
    same_pool: dict[str, Any] = {"pool_name": first.options.pool_name, "namespace": first.options.namespace}
    second = NepseWorkerAPI(**same_pool, base_url=quick_sim.base_url)
    second.market_open()
    assert first.get_stats().total_tasks_completed == 1

    second.shutdown()  # a driver that joined only leaves (the CLI's pull, a job beside a notebook)
    with NepseWorkerAPI(**same_pool, base_url=quick_sim.base_url):  # and so does leaving by the context manager
        pass
    first.market_open()
    assert second.closed and first.get_stats().total_tasks_completed == 2

    NepseWorkerAPI(**same_pool, base_url=quick_sim.base_url).shutdown(force=True)  # stops it for every driver
    with pytest.raises(NepseError, match="is gone"):
        first.market_open()


@pytest.mark.parametrize(
    "conflict", [{"base_url": "http://127.0.0.1:9"}, {"verify": False}, {"ca_bundle": __file__}], ids=str
)
def test_joining_with_another_site_or_tls_fails_and_leaves_the_pool_alone(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator, conflict: dict[str, Any]
) -> None:
    first = nepse_pool_factory(quick_sim, rate_per_token=50.0)
    joining = {"pool_name": first.options.pool_name, "namespace": first.options.namespace}

    with pytest.raises(PoolConfigError, match=f"already runs with other {next(iter(conflict))}"):
        NepseWorkerAPI(**{"base_url": quick_sim.base_url, **joining, **conflict})

    assert isinstance(first.market_open(), MarketOpen)  # the failed joiner did not kill the shared pool
    assert len(live_actors()) == 3


def test_default_api_is_created_once_on_first_use(nepse_ray_cluster: dict[str, Any]) -> None:
    from nepse_ray.pool import api as api_module

    assert "created on first use" in repr(api_module.nepse_worker_api)
    assert not hasattr(api_module.nepse_worker_api, "_repr_html_")  # introspection does not create a pool
    first = api_module.default_api()
    try:
        assert api_module.default_api() is first
        assert api_module.nepse_worker_api.options.pool_name == first.options.pool_name == "nepse-ray"
    finally:
        first.shutdown()
    assert first.closed


def test_session_calls_go_straight_to_workers_and_survive_a_killed_worker(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator
) -> None:
    api = nepse_pool_factory(quick_sim, min_workers=2, max_workers=2, rate_per_token=50.0)
    before = api.get_stats()

    tokens = {api.get_access_token() for _ in range(6)}

    assert len(tokens) == 2  # taken in turn from both workers, each with a token of its own
    after = api.get_stats()
    assert after.session_calls - before.session_calls == 6
    assert after.total_tasks_completed == before.total_tasks_completed  # none went through the queue

    os.kill(api.ping_workers()[0]["pid"], signal.SIGKILL)
    market_id = quick_sim.config.market_id
    assert [api.get_market_id() for _ in range(4)] == [market_id] * 4
    assert ray.get([api.remote.get_market_id() for _ in range(4)]) == [market_id] * 4
