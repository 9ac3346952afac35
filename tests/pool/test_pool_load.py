"""Load: 4,000 requests from 8 threads and a second driver process on one pool, against a rate-limited simulator.

Every request is a distinct one-row floorsheet page, so nothing is shared or cached and each must come back exactly
once with its own row. The simulator limits each token to the rate the pool paces at, so any token sending too fast
shows up as a violation; a ninth thread reads the pool's stats throughout. Each submitter keeps a bounded window of
requests in flight, as the pulls do (the bulk lane refuses more than ``max_queued``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import ray

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import SimulatorProcess
from nepse_ray.testing import TEST_NAMESPACE

pytestmark = pytest.mark.ray

REQUESTS = 4_000
THREADS = 8
SECOND_DRIVER = 500  # of the 4,000: pages [0, 500) come from another process
WINDOW = 150
RATE = 150.0  # requests/s per token, and the simulator's per-token limit

SECOND_DRIVER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import ray
    from nepse_ray.pool.api import NepseWorkerAPI

    address, namespace, pool_name, base_url, count, window = sys.argv[1:7]
    ray.init(address=address, namespace=namespace, log_to_driver=False)
    api = NepseWorkerAPI(pool_name=pool_name, namespace=namespace, base_url=base_url)
    pages, rows, todo, flying = [], [], list(range(int(count))), {}
    while todo or flying:
        while todo and len(flying) < int(window):
            page = todo.pop()
            flying[api.remote.floorsheet(page=page, size=1)] = page
        ready, _ = ray.wait(list(flying), num_returns=1)
        for ref in ready:
            answer = ray.get(ref)
            pages.append((flying.pop(ref), answer.floorsheets.number))
            rows += [row.contract_id for row in answer.floorsheets.content]
    print(json.dumps({"pages": pages, "rows": rows}))
    """
)


@pytest.fixture
def limited_sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(seed=5, trades=REQUESTS, rate_limit=RATE, burst=1, on_excess="429") as sim:
        yield sim


def submit_window(api: NepseWorkerAPI, pages: list[int], answers: dict[int, list[Any]]) -> None:
    """Fetch ``pages`` with at most WINDOW in flight; record every answer under the page that asked for it."""
    todo = list(pages)
    flying: dict[Any, int] = {}  # ObjectRef -> page
    while todo or flying:
        while todo and len(flying) < WINDOW:
            page = todo.pop()
            flying[api.remote.floorsheet(page=page, size=1)] = page
        ready, _ = ray.wait(list(flying), num_returns=1)
        for ref in ready:
            answers.setdefault(flying.pop(ref), []).append(ray.get(ref))


def test_four_thousand_requests_none_lost_none_twice_limits_kept(
    nepse_pool_factory: Callable[..., NepseWorkerAPI],
    nepse_ray_cluster: dict[str, Any],
    limited_sim: SimulatorProcess,
) -> None:
    api = nepse_pool_factory(limited_sim, min_workers=5, max_workers=5, rate_per_token=RATE)
    ray.get([api.remote.get_market_id() for _ in range(10)])
    limited_sim.reset_stats()
    second = subprocess.Popen(
        [
            sys.executable, "-c", SECOND_DRIVER_SCRIPT, nepse_ray_cluster["gcs_address"], TEST_NAMESPACE,
            api.options.pool_name, limited_sim.base_url, str(SECOND_DRIVER), str(WINDOW),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )  # fmt: skip
    answers: dict[int, list[Any]] = {}
    mine = list(range(SECOND_DRIVER, REQUESTS))
    threads = [threading.Thread(target=submit_window, args=(api, mine[n::THREADS], answers)) for n in range(THREADS)]
    stats_seen, stats_failures, done = [], [], threading.Event()

    def watch_stats() -> None:
        while not done.is_set():
            try:
                stats_seen.append(api.get_stats().pending_tasks)
            except Exception as error:  # any failure to answer is a test failure, reported below
                stats_failures.append(error)

    watcher = threading.Thread(target=watch_stats)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out, err = second.communicate(timeout=600)
    done.set()
    watcher.join()

    assert second.returncode == 0, err[-3000:]
    theirs = json.loads(out.strip().splitlines()[-1])
    assert all(len(found) == 1 for found in answers.values())  # nothing answered twice
    assert sorted(answers) == mine and sorted(asked for asked, _ in theirs["pages"]) == list(range(SECOND_DRIVER))
    assert all(answer.floorsheets.number == page for page, (answer,) in answers.items())
    assert all(asked == got for asked, got in theirs["pages"])
    rows = [row.contract_id for (answer,) in answers.values() for row in answer.floorsheets.content]
    assert len(rows) + len(theirs["rows"]) == len(set(rows) | set(theirs["rows"])) == REQUESTS
    served = limited_sim.stats()
    assert served["requests_per_endpoint"]["floorsheet"] == REQUESTS  # no page fetched twice either
    assert served["rate_limit_violations"] == 0
    assert not stats_failures and len(stats_seen) > 10 and max(stats_seen) > 0  # answering while loaded
    stats = api.get_stats()
    assert stats.total_tasks_completed >= REQUESTS and stats.total_errors == 0 and stats.refused == 0
