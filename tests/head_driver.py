"""Drivers that ``test_operations_head.py`` runs against a real head node, each in a process of its own (the test
process already holds a Ray connection of its own), and the scraping helpers both sides use.

``python head_driver.py metrics|secrets|prometheus BASE_URL POOL METRICS_URL OUT_JSON`` joins the cluster named by
``RAY_ADDRESS``, runs the scenario against the simulator at ``BASE_URL`` and writes what the test checks to
``OUT_JSON``. ``prometheus`` is ``metrics`` with the pool kept up until the test has queried it: the driver prints
``READY`` once every metric reached the node's endpoint and shuts the pool down when a line arrives on its stdin.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import pickle
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
import requests
from metric_tables import exported_names
from prometheus_client.parser import text_string_to_metric_families

from nepse_ray import NepseWorkerAPI, pull_floorsheet
from nepse_ray.nepse.errors import NepseError
from nepse_ray.pool.errors import PoolBusyError
from nepse_ray.pool.stats import PoolStats

NAMESPACE = "nepse_ray_head"
READY = "READY"
NEPSE_RAY = str(Path(sys.executable).parent / "nepse-ray")


def scrape(metrics_url: str) -> str:
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text: str = response.read().decode()
    return text


def pool_series(text: str, pool: str) -> dict[str, float]:
    """Each series name of pool ``pool`` in a Prometheus text, summed over its other labels (Ray's WorkerId...)."""
    totals: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.labels.get("pool") == pool:
                totals[sample.name] += sample.value
    return dict(totals)


def completed(series: dict[str, float]) -> float:
    return series.get("ray_nepse_pool_tasks_completed_total", 0.0)


def wait_for(metrics_url: str, pool: str, done: Any, timeout: float = 30.0) -> dict[str, float]:
    """Scrape until ``done(series)`` holds (or ``timeout`` passes); the last series seen."""
    deadline = time.monotonic() + timeout
    while True:
        series = pool_series(scrape(metrics_url), pool)
        if done(series) or time.monotonic() > deadline:
            return series
        time.sleep(0.5)


def sim_config(base_url: str, **changes: Any) -> None:
    requests.post(base_url + "/_sim/config", json=changes, timeout=10).raise_for_status()


def outcomes(refs: list[Any]) -> tuple[int, int, int]:
    """(answered, refused with PoolBusyError, failed otherwise) of ``refs``."""
    answered = refused = failed = 0
    for ref in refs:
        try:
            ray.get(ref)
            answered += 1
        except PoolBusyError:
            refused += 1
        except NepseError:
            failed += 1
    return answered, refused, failed


def metrics_scenario(
    base_url: str, pool: str, metrics_url: str, before_shutdown: Callable[[NepseWorkerAPI], object] = lambda api: None
) -> dict[str, Any]:
    """Requests that move every metric the pool exports; the counts the test compares with the scraped ones."""
    api = NepseWorkerAPI(
        base_url=base_url, pool_name=pool, namespace=NAMESPACE, min_workers=1, max_workers=2, rate_per_token=20.0,
        max_queued=8, scale_interval=0.1, backoff_base=0.01, backoff_cap=0.05, max_retries=3,
    )  # fmt: skip
    answered = refused = failed = 0

    def count(refs: list[Any]) -> None:
        nonlocal answered, refused, failed
        done = outcomes(refs)
        answered, refused, failed = answered + done[0], refused + done[1], failed + done[2]

    sim_config(base_url, latency_ms=100.0)
    count([api.remote.floorsheet(page=page, size=100) for page in range(20)])  # a backlog: scale-up, refusals
    count([api.remote.floorsheet(page=7, size=100) for _ in range(5)])  # identical, in flight together: coalesced
    sim_config(base_url, latency_ms=0.0)
    count([api.remote.security_list() for _ in range(2)])  # the second is a cache hit (or coalesced)
    count([api.remote.security_list()])  # a cache hit
    sim_config(base_url, fault_5xx=0.5)
    count([api.remote.floorsheet(page=page, size=100) for page in range(8, 14)])  # retries
    sim_config(base_url, fault_5xx=0.0)
    count([api.remote.security_detail(999_999)])  # 404: an error
    ray.kill(ray.get_actor(f"{pool}-worker-1", namespace=NAMESPACE), no_restart=True)
    count([api.remote.floorsheet(page=page, size=100) for page in range(14, 20)])  # a replacement
    answered += api.market_open() is not None  # the interactive lane

    names = exported_names()
    # A worker proves its token at its first request: the one killed above (the only worker at the start), and each
    # live worker that served (the replacement, and the scaled-up one if the backlog scaled the pool in time). The
    # workers report their own series on their own schedule: wait for all of them, not only the coordinator's count.
    stats = api.get_stats()
    proved = 1 + sum(1 for served in stats.requests_per_worker.values() if served > 0)
    before = wait_for(
        metrics_url,
        pool,
        lambda s: names <= set(s) and completed(s) == answered and s["ray_nepse_pool_token_proves_total"] >= proved,
    )
    stats = api.get_stats()
    before_shutdown(api)
    api.shutdown()
    return {
        "answered": answered,
        "refused": refused,
        "failed": failed,
        "stats": stats.model_dump(mode="json"),
        "proved": proved,
        "before_shutdown": before,
    }


def prometheus_scenario(base_url: str, pool: str, metrics_url: str) -> dict[str, Any]:
    """The metrics scenario, its pool (and so its gauges) up until a line arrives on stdin after ``READY``."""

    def hold(api: NepseWorkerAPI) -> None:
        # A trickle of distinct bulk calls while the test queries: Prometheus's rate() needs a series to grow between
        # two scrapes, and on a quick machine the scenario's traffic can all land before the first one.
        held = threading.Event()

        def trickle() -> None:
            for page in itertools.cycle(range(150)):
                if held.wait(0.3):
                    return
                with contextlib.suppress(NepseError, PoolBusyError):
                    ray.get(api.remote.floorsheet(page=page, size=10))

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        print(READY, flush=True)
        sys.stdin.readline()
        held.set()
        thread.join()

    return metrics_scenario(base_url, pool, metrics_url, before_shutdown=hold)


def secrets_scenario(base_url: str, pool: str, metrics_url: str) -> dict[str, Any]:
    """A full pull, a few value calls, errors and both CLI commands; every text the project showed, for the test."""
    texts: dict[str, str] = {}
    api = NepseWorkerAPI(base_url=base_url, pool_name=pool, namespace=NAMESPACE, max_workers=2, rate_per_token=50.0)
    result = pull_floorsheet(api)
    texts["result"] = f"{result!r}\n{result}\n{result.rows} {result.expected} {result.complete}"
    texts["values"] = repr([api.market_open(), api.get_market_id(), api.get_market_status(), len(api.security_list())])
    calls: dict[str, Callable[[], object]] = {
        "client error": lambda: api.security_detail(999_999),
        "input error": lambda: api.floorsheet(page=-1),
    }
    for name, call in calls.items():
        try:
            call()
        except NepseError as error:
            texts[name] = _error_texts(error)
    stats = api.get_stats()
    texts["stats"] = f"{stats!r}\n{stats}\n{stats._repr_html_()}\n{stats.model_dump_json()}"
    texts["facade"] = f"{api!r}\n{api.options!r}\n{api.options.model_dump()}"
    address = ray.get_runtime_context().gcs_address
    texts["nepse-ray stats"] = _run(
        [NEPSE_RAY, "stats", "--address", address, "--pool", pool, "--namespace", NAMESPACE]
    )
    api.shutdown()
    try:
        api.market_open()
    except NepseError as error:
        texts["after shutdown"] = _error_texts(error)
    out = Path("day.parquet")  # in the driver's working directory, a temporary one
    texts["nepse-ray pull"] = _run(
        [NEPSE_RAY, "pull", "floorsheet", "--base-url", base_url, "--address", address,
         "--max-workers", "2", "--out", str(out)]
    )  # fmt: skip
    out.unlink(missing_ok=True)
    texts["metrics"] = scrape(metrics_url)
    return {"texts": texts, "rows": result.rows, "complete": result.complete, "figures": _figures(stats)}


def _figures(stats: PoolStats) -> list[int]:
    """Every number the stats show on purpose (counts, bytes, process ids): some are as long as salts."""
    dumped = stats.model_dump()
    numbers = [value for value in dumped.values() if isinstance(value, int)]
    numbers += [value for worker in dumped["workers"] for value in worker.values() if isinstance(value, int)]
    return numbers + list(dumped["requests_per_worker"].values())


def _error_texts(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), repr(error.args), pickle.dumps(error).decode("latin-1")])


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"


def main() -> None:
    scenario, base_url, pool, metrics_url, out = sys.argv[1:6]
    # DEBUG everywhere, each line naming its logger (name=...), so the test can tell the project's lines from Ray's.
    logging_config = ray.LoggingConfig(log_level="DEBUG", additional_log_standard_attrs=["name"])
    ray.init(log_to_driver=False, logging_config=logging_config)
    run = {"metrics": metrics_scenario, "prometheus": prometheus_scenario, "secrets": secrets_scenario}[scenario]
    Path(out).write_text(json.dumps(run(base_url, pool, metrics_url)))


if __name__ == "__main__":
    main()
