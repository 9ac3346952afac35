"""The pool's direct path on a local Ray cluster: pages come from the workers to the caller, the coordinator counts
them, a page that fails is retried through a new lease (a request that cannot succeed is not), and a caller that
stops gives every lease back."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nepse_ray.nepse.errors import NepseClientRequestError
from nepse_ray.nepse.tables import PageBatch
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pool.direct import DirectRequest, DirectRequests
from nepse_ray.sim import Simulator
from nepse_ray.testing import wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]


def answers(requests: DirectRequests, count: int) -> dict[DirectRequest, object]:
    ended: dict[DirectRequest, object] = {}
    while len(ended) < count:
        ended.update(requests.wait(timeout=1.0))
    return ended


def test_pages_come_straight_from_the_workers_and_are_counted(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=5_000, rate_limit=None, fault_5xx=0.2)
    api = nepse_pool_factory(sim, max_workers=2, rate_per_token=100.0, backoff_base=0.01, backoff_cap=0.01)
    requests = api.direct()
    pages = [requests.submit("floorsheet", {"page": page, "size": 500}, "arrow") for page in range(10)]
    unknown = requests.submit("market_depth", {"security_id": 999_999}, "raw")  # a 404: not retried

    ended = answers(requests, len(pages) + 1)
    requests.close()

    batches = [answer for answer in (ended[p] for p in pages) if isinstance(answer, PageBatch)]
    assert [batch.number for batch in batches] == list(range(10))
    assert sum(batch.rows.num_rows for batch in batches) == 5_000
    assert isinstance(ended[unknown], NepseClientRequestError)
    served = sim.stats()["responses_by_status"]
    stats = wait_until(api.get_stats, lambda s: s.pending_tasks == 0 and s.busy_workers == 0, timeout=30)
    assert (stats.total_tasks_completed, stats.total_errors) == (len(pages), 1)
    assert stats.retries == served.get("500", 0) + served.get("502", 0) + served.get("503", 0) > 0
    assert stats.result_bytes > 0 and sum(stats.requests_per_worker.values()) == stats.retries + len(pages) + 1


def test_a_caller_that_stops_early_gives_every_lease_back(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=5_000, rate_limit=None, latency_ms=200.0)
    api = nepse_pool_factory(sim, max_workers=2, inflight_per_worker=2, rate_per_token=100.0)
    requests = api.direct()
    for page in range(10):
        requests.submit("floorsheet", {"page": page, "size": 500}, "arrow")
    wait_until(lambda: requests.wait(timeout=0.5), bool, timeout=60)  # the first answers are in; others are out
    requests.close()

    stats = wait_until(api.get_stats, lambda s: s.pending_tasks == 0 and s.busy_workers == 0, timeout=60)
    assert stats.total_tasks_completed < 10  # what was still waiting was never asked
