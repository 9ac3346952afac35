"""The local dataset through a pool: incremental, idempotent, resumable after SIGKILL, readable by pyarrow, pandas
and DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from dataset_checks import committed

from nepse_ray import dataset
from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors, wait_until

pytestmark = pytest.mark.ray

FAST_TABLES = ["securities", "companies", "floorsheet", "today_price", "index_history"]


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file under ``root`` but the writers' lock: its mtime in ns and its bytes."""
    return {
        str(path.relative_to(root)): (path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != ".nepse-ray-lock"
    }


def days_of(sim: Simulator) -> tuple[dt.date, list[dt.date]]:
    served = [dt.date.fromisoformat(day) for day in sim.stats()["served_days"]]
    return served[-1], served


def test_a_second_sync_fetches_nothing_and_changes_no_file_and_history_grows_incrementally(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=1_500, past_days=2, rate_limit=None)
    api = nepse_pool_factory(sim, max_workers=2, rate_per_token=100.0)
    today, served = days_of(sim)
    since = today - dt.timedelta(days=6)
    root = tmp_path / "nepse"

    first = dataset.sync(api, root, since=since)

    expected_days = dataset.trading_days(since, today)
    days = dataset.snapshot(root).manifest.tables["floorsheet"].days
    assert first.pulls > 0 and days.keys() == set(expected_days)
    for day in expected_days:
        assert days[day].status == ("complete" if day in served else "unavailable"), day
        assert (root / "floorsheet" / f"business_date={day}").exists() == (day in served)
    before = snapshot(root)

    second = dataset.sync(api, root, since=since)

    assert (second.pulls, second.written, str(second)) == (0, [], "up to date: nothing fetched, no file changed")
    assert snapshot(root) == before

    trades = dataset.open(root, "floorsheet").to_table()
    assert trades.num_rows == 1_500 * len(served) and trades.schema.field("business_date").type == pa.date32()
    assert sorted(set(trades.column("business_date").to_pylist())) == served
    frame = dataset.open(root, "today_price").to_table().to_pandas()
    assert set(frame["business_date"]) == set(served) and frame["close_price"].dtype == "float64"
    files = dataset.files(root, "floorsheet")
    relation = duckdb.sql(
        f"select business_date, count(*) as n from read_parquet({files}, hive_partitioning=1) group by 1 order by 1"
    )
    assert relation is not None  # duckdb.sql returns None only for statements without a result
    per_day = relation.fetchall()
    assert per_day == [(day, 1_500) for day in served]

    history = dataset.open(root, "price_history").to_table()
    dates = history.column("business_date").to_pylist()
    assert min(dates) >= since and max(dates) == today and history.schema.field("symbol").type == pa.string()
    earlier = since - dt.timedelta(days=7)
    third = dataset.sync(api, root, since=earlier, tables=["price_history"])
    series = dataset.snapshot(root).manifest.tables["price_history"].series
    assert third.pulls > 0 and all(entry.covered == [(earlier, today)] for entry in series.values())
    grown = dataset.open(root, "price_history").to_table()
    assert grown.num_rows > history.num_rows and min(grown.column("business_date").to_pylist()) >= earlier
    assert snapshot(root).keys() > before.keys()  # the earlier range went into a new part beside the old ones


def test_a_sync_killed_with_sigkill_and_run_again_ends_where_an_uninterrupted_one_ends(
    nepse_ray_cluster: dict[str, Any],
    nepse_pool_factory: Callable[..., NepseWorkerAPI],
    nepse_sim_factory: Callable[..., Simulator],
    tmp_path: Path,
) -> None:
    sim = nepse_sim_factory(trades=1_000, past_days=3, rate_limit=None)
    today, _ = days_of(sim)
    since = (today - dt.timedelta(days=8)).isoformat()
    command = [sys.executable, "-m", "nepse_ray.cli", "sync", str(tmp_path / "killed"), "--since", since,
               "--tables", *FAST_TABLES, "--base-url", sim.base_url, "--address", nepse_ray_cluster["gcs_address"],
               "--min-workers", "5", "--max-workers", "5", "--quiet"]  # fmt: skip
    coordinators = len(live_actors(("PoolCoordinator",)))
    killed = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    manifest = tmp_path / "killed" / "manifest.json"
    wait_until(lambda: manifest.exists() and "floorsheet" in json.loads(manifest.read_text())["tables"], bool,
               timeout=120)  # fmt: skip
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    half = json.loads(manifest.read_text())
    assert "index_history" not in half["tables"]  # killed half-way
    wait_until(lambda: len(live_actors(("PoolCoordinator",))), lambda n: n <= coordinators, timeout=60)

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]

    api = nepse_pool_factory(sim, max_workers=2, rate_per_token=100.0)
    dataset.sync(api, tmp_path / "whole", since=since, tables=FAST_TABLES)
    assert committed(tmp_path / "killed") == committed(tmp_path / "whole")
    assert not list((tmp_path / "killed").rglob("*.tmp"))


def test_bad_tables_and_a_missing_dataset_are_named(tmp_path: Path) -> None:
    with pytest.raises(NepseInputError, match="unknown table"):
        dataset.open(tmp_path, "trades")
    with pytest.raises(NepseInputError, match="nepse-ray sync"):
        dataset.open(tmp_path, "floorsheet")
    with pytest.raises(NepseInputError, match="nepse-ray sync"):
        dataset.status(tmp_path)
