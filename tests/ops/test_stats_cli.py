"""``nepse-ray stats`` in a subprocess, against a pool on the session's Ray cluster, and with no pool or cluster."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator
from nepse_ray.testing import TEST_NAMESPACE

pytestmark = pytest.mark.ray

STATS = [sys.executable, "-m", "nepse_ray.cli", "stats"]


def stats_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STATS, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=180, check=False
    )


def assert_one_clear_line(done: subprocess.CompletedProcess[str], says: str) -> None:
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith("nepse-ray stats: ") and done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr


@pytest.fixture
def pool(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> NepseWorkerAPI:
    api = nepse_pool_factory(nepse_sim_factory(trades=1_000, rate_limit=None), rate_per_token=50.0)
    for _ in range(3):
        api.market_summary()
    return api


def test_json_stats_of_a_running_pool(nepse_ray_cluster: dict[str, Any], pool: NepseWorkerAPI) -> None:
    done = stats_cli(
        "--address", nepse_ray_cluster["gcs_address"], "--pool", pool.options.pool_name, "--namespace", TEST_NAMESPACE,
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    stats = json.loads(done.stdout)
    expected = pool.get_stats()
    assert stats["pool_name"] == pool.options.pool_name
    assert stats["total_workers"] == expected.total_workers >= 1
    assert stats["total_tasks_completed"] == expected.total_tasks_completed >= 3
    assert len(stats["workers"]) == expected.total_workers


def test_table_of_a_running_pool_found_through_ray_address(
    nepse_ray_cluster: dict[str, Any], pool: NepseWorkerAPI
) -> None:
    done = stats_cli("--pool", pool.options.pool_name, "--namespace", TEST_NAMESPACE,
                     RAY_ADDRESS=nepse_ray_cluster["gcs_address"], COLUMNS="200")  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"nepse-ray pool '{pool.options.pool_name}'" in done.stdout
    for figure in ("total_workers", "total_tasks_completed", "latency_p50", "worker_id"):
        assert figure in done.stdout
    for worker in pool.get_stats().workers:
        assert worker.worker_id in done.stdout


def test_watch_prints_until_interrupted(nepse_ray_cluster: dict[str, Any], pool: NepseWorkerAPI) -> None:
    command = [*STATS, "--address", nepse_ray_cluster["gcs_address"], "--pool", pool.options.pool_name,
               "--namespace", TEST_NAMESPACE, "--json", "--watch", "0.1"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as watcher:
        assert watcher.stdout is not None
        snapshots = [json.loads(watcher.stdout.readline()) for _ in range(2)]
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(timeout=60) == 0
    assert all(snapshot["pool_name"] == pool.options.pool_name for snapshot in snapshots)


def test_no_pool_of_that_name(nepse_ray_cluster: dict[str, Any]) -> None:
    done = stats_cli("--address", nepse_ray_cluster["gcs_address"], "--pool", "no-such-pool")
    assert_one_clear_line(done, "no nepse-ray pool named 'no-such-pool' in namespace 'nepse_ray'")


def test_no_cluster_and_no_new_local_instance(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{probe.getsockname()[1]}"
    ray_temp = tmp_path / "ray"
    ray_temp.mkdir()
    done = stats_cli("--address", address, RAY_TMPDIR=str(ray_temp))
    assert_one_clear_line(done, f"no Ray cluster answers at {address}")
    assert list(ray_temp.iterdir()) == []  # no session was started here


def test_watch_must_be_positive() -> None:
    done = stats_cli("--watch", "0")
    assert done.returncode == 2 and "--watch must be a positive number" in done.stderr
