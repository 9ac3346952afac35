"""``api.submit(name, params, priority=..., form=...)`` on a local Ray cluster: every form resolves to what a
single-token client would have built from the same answer, the coordinator only ever passes bytes on, and a backlog
of model refs is made into models in the driver while it arrives."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import ray
from ray.exceptions import RayTaskError

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseClientRequestError, NepseError, NepseInputError
from nepse_ray.nepse.models import FloorsheetResponse
from nepse_ray.nepse.tables import PageBatch, page_batch
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.made_ahead import PREFETCHED
from nepse_ray.pool.prefetch import BACKLOG
from nepse_ray.sim import Simulator

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]


@pytest.fixture
def quick_sim(nepse_sim_factory: Callable[..., Simulator]) -> Simulator:
    return nepse_sim_factory(trades=2_000, rate_limit=None)


@pytest.fixture
def client(quick_sim: Simulator) -> Iterator[NepseClient]:
    with NepseClient(quick_sim.base_url, rate=1000.0, burst=10) as single:
        yield single


def test_each_form_resolves_to_what_a_client_builds(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator, client: NepseClient
) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=100.0)
    params: dict[str, Any] = {"page": 1, "size": 200}
    expected = client.floorsheet(**params)

    model, batch, raw = ray.get([api.submit("floorsheet", params, form=form) for form in ("model", "arrow", "raw")])

    assert isinstance(model, FloorsheetResponse) and model == expected
    assert isinstance(raw, bytes) and FloorsheetResponse.model_validate(json.loads(raw)) == expected
    assert isinstance(batch, PageBatch)
    assert batch.rows.equals(page_batch("floorsheet", json.loads(raw)).rows)
    assert batch.rows.column("contract_id").to_pylist() == [row.contract_id for row in expected.floorsheets.content]
    assert (batch.number, batch.total_elements) == (1, 2_000)


def test_the_coordinator_passes_results_on_as_bytes(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=100.0)
    before = api.get_stats().result_bytes

    bodies = ray.get([api.submit("today_price", {"page": page, "size": 50}, form="raw") for page in range(3)])

    # Counted from the Wire's payload: a coordinator holding models instead of bytes would count nothing.
    assert api.get_stats().result_bytes - before == sum(len(body) for body in bodies)


def test_a_ref_passed_to_a_task_arrives_materialised(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=100.0)

    @ray.remote(num_cpus=0)
    def describe(page: object) -> tuple[str, int]:
        assert isinstance(page, PageBatch)
        return page.endpoint, page.rows.num_rows

    ref = api.submit("floorsheet", {"page": 0, "size": 30}, priority="interactive", form="arrow")
    assert ray.get(describe.remote(ref)) == ("floorsheet", 30)


def test_failures_are_the_original_error_in_every_form(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=100.0)
    for form in ("model", "arrow", "raw"):
        ref = api.submit("security_price_history", {"security_id": 999_999}, form=form)
        with pytest.raises(NepseClientRequestError) as caught:
            ray.get(ref)
        assert isinstance(caught.value, RayTaskError) and isinstance(caught.value, NepseError)
        assert caught.value.status == 404


def test_bad_forms_and_priorities_fail_on_the_driver(nepse_pool_factory: PoolFactory, quick_sim: Simulator) -> None:
    api = nepse_pool_factory(quick_sim)
    requests_before = quick_sim.stats()["requests_total"]

    with pytest.raises(NepseInputError, match="needs a paged endpoint"):
        api.submit("market_open", {}, form="arrow")
    with pytest.raises(NepseInputError, match="priority must be one of"):
        api.submit("market_open", {}, priority="now")  # type: ignore[arg-type]
    with pytest.raises(NepseInputError, match="session method"):
        api.submit("get_market_id", {}, form="raw")

    assert quick_sim.stats()["requests_total"] == requests_before


def test_a_backlog_of_model_refs_is_made_ahead_and_each_model_taken_once(
    nepse_pool_factory: PoolFactory, quick_sim: Simulator, client: NepseClient
) -> None:
    api = nepse_pool_factory(quick_sim, rate_per_token=100.0)
    pages = 20
    expected = [client.floorsheet(page=page, size=100) for page in range(pages)]
    PREFETCHED.clear()  # earlier tests asked for the same bodies (each simulator serves the same day): not wanted

    refs = [api.remote.floorsheet(page=page, size=100) for page in range(pages)]
    ray.wait(refs, num_returns=pages)
    deadline = time.monotonic() + 60  # the prefetcher stops with fewer than BACKLOG refs left to make
    while len(PREFETCHED) < pages - BACKLOG + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    made = len(PREFETCHED)
    models = ray.get(refs)

    assert made >= pages - BACKLOG + 1
    assert models == expected
    assert len(PREFETCHED) == 0  # every model made ahead was taken by the ray.get
    again = ray.get(refs[0])
    assert again == models[0] and again is not models[0]  # a model is never handed out twice
