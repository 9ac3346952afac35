"""Callers of the direct path on a real pool: one that dies mid-pull, one that stops waiting while attempts still run,
and the pool's rate cap on every HTTP request its workers send (proves included).

Checks are about what the pool and the simulator counted; the only times are generous bounds on a wait that must
end (a call that hangs for minutes is the failure).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest
import ray

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator
from nepse_ray.testing import TEST_NAMESPACE, wait_until

pytestmark = pytest.mark.ray

PoolFactory = Callable[..., NepseWorkerAPI]

PULLING_DRIVER = """
import sys
from nepse_ray import NepseWorkerAPI, pull_floorsheet
address, namespace, pool, base_url = sys.argv[1:5]
api = NepseWorkerAPI(address=address, namespace=namespace, pool_name=pool, base_url=base_url)
def said(progress):
    if progress.pages_done >= 2:
        print("pulling", flush=True)
pull_floorsheet(api, on_progress=said)
"""


def answers_within(call: Callable[[], Any], timeout: float) -> bool:
    """Whether ``call()`` returned within ``timeout`` seconds (it keeps running in the background if not)."""
    done = threading.Event()

    def run() -> None:
        call()
        done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(timeout)


def test_a_pull_killed_mid_way_gives_its_slots_back_and_a_notebook_call_answers(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator], nepse_ray_cluster: dict[str, Any]
) -> None:
    sim = nepse_sim_factory(trades=20_000, rate_limit=None)
    api = nepse_pool_factory(
        sim,
        detached=True,
        min_workers=2,
        max_workers=2,
        rate_per_token=2.0,
        task_timeout=120.0,
        cache_ttl={"market_open": 0.0},
    )
    api.market_open()
    puller = subprocess.Popen(
        [sys.executable, "-c", PULLING_DRIVER, nepse_ray_cluster["gcs_address"], TEST_NAMESPACE,
         api.options.pool_name, sim.base_url],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ},
    )  # fmt: skip
    try:
        assert puller.stdout is not None and puller.stdout.readline().strip() == "pulling"
        wait_until(api.get_stats, lambda s: s.busy_workers == 2 and s.pending_tasks == 4, timeout=30)
        puller.send_signal(signal.SIGKILL)  # a driver killed (a kernel restarted) while it holds every slot
    finally:
        puller.kill()
        puller.wait()

    assert answers_within(api.market_open, timeout=60.0)  # not after the leases' 3 x task_timeout
    stats = wait_until(api.get_stats, lambda s: s.pending_tasks == 0, timeout=30)
    assert stats.worker_replacements == 0 and stats.timeouts == 0  # no healthy worker was taken for wedged


def test_a_caller_that_stops_waiting_keeps_the_slots_of_attempts_still_running(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=500, rate_limit=None)
    api = nepse_pool_factory(sim, min_workers=1, max_workers=1, inflight_per_worker=1, task_timeout=15.0)
    api.market_open()
    sim.configure(latency_ms=6_000.0)  # the next attempts take six seconds at the site
    requests = api.direct()
    requests.submit("floorsheet", {"page": 0}, "raw")
    wait_until(lambda: (requests.wait(0.1), api.get_stats())[1], lambda s: s.busy_workers == 1, timeout=30)

    requests.close()  # a pull interrupted: its attempt runs on at the worker

    assert api.get_stats().busy_workers == 1  # so its slot stays taken: the worker runs nothing more than it can
    sim.configure(latency_ms=0.0)
    wait_until(api.get_stats, lambda s: s.busy_workers == 0 and s.pending_tasks == 0, timeout=60)


def test_the_rate_cap_bounds_every_http_request_proves_and_retries_included(
    nepse_pool_factory: PoolFactory, nepse_sim_factory: Callable[..., Simulator]
) -> None:
    # The site allows 5 requests/s from this address; the pool's cap is 3/s over 3 tokens of 20/s each. Tokens
    # revoked early make workers prove again (a prove and market-open) inside the grant of the request they serve.
    sim = nepse_sim_factory(trades=3_000, rate_limit=None, address_rate_limit=5.0, address_burst=1)
    api = nepse_pool_factory(sim, min_workers=3, max_workers=3, rate_per_token=20.0, pool_rate_cap=3.0)
    api.market_open()
    sim.configure(fault_early_expiry=0.3)
    sim.reset_stats()

    ray.get([api.remote.floorsheet(page=page, size=200) for page in range(15)])

    served = sim.stats()
    assert served["requests_per_endpoint"]["prove"] >= 2  # re-proves happened inside grants ...
    assert served["rate_limit_violations"] == 0  # ... and still every request kept the address's limit
