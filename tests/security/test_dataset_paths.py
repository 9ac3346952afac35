"""The dataset writer against a hostile server (issue #17): nothing the site sends becomes a path, nothing is written
outside the dataset's folder, and a far-future day plans nothing. The real simulator in hostile mode, the real
client (``dataset_site.ClientSite``), real files."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from dataset_site import ClientSite

from nepse_ray import dataset
from nepse_ray.dataset.sync import run_sync
from nepse_ray.nepse.errors import NepseInputError, NepseInvalidResponseError
from nepse_ray.sim import Simulator
from nepse_ray.sim.hostile import FAR_FUTURE_AS_OF, TRAVERSAL_SYMBOLS

HostileSim = Callable[..., Simulator]
#: The dataset tests' simulators: small, and payload ids from the Nepal date as the client computes them.
SMALL = {"trades": 200, "day_source": "nepal"}


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*") if path.is_file() or path.is_symlink()}


def test_symbols_that_are_paths_are_refused_and_nothing_is_written_outside_the_dataset(
    hostile_sim: HostileSim, tmp_path: Path
) -> None:
    sim = hostile_sim("traversal-symbols", **SMALL)
    root = tmp_path / "data"
    report = run_sync(ClientSite(sim.base_url), root, tables=["securities", "price_history"])

    assert files_under(tmp_path) == files_under(root), "a file was written outside the dataset"
    assert not Path("/tmp/nepse-ray-hostile").exists()
    refused = [line.split("'")[1] for line in report.refused]
    assert refused == [repr(symbol)[1:-1] for symbol in TRAVERSAL_SYMBOLS]
    stored = set(dataset.open(root, "securities").to_table().column("symbol").to_pylist())
    assert not stored & set(TRAVERSAL_SYMBOLS) and len(stored) == 12 - len(TRAVERSAL_SYMBOLS)
    assert set(dataset.open(root, "price_history").to_table().column("symbol").to_pylist()) == stored


def test_rows_whose_dates_are_paths_fail_their_listing_and_write_nothing(
    hostile_sim: HostileSim, tmp_path: Path
) -> None:
    sim = hostile_sim("hostile-dates", **SMALL)
    root = tmp_path / "data"
    with pytest.raises(dataset.IncompleteSyncError) as caught:
        run_sync(ClientSite(sim.base_url), root, tables=["securities", "floorsheet", "index_history"])

    assert files_under(tmp_path) == files_under(root)
    assert {line.split()[0] for line in caught.value.failed} == {"floorsheet", "index_history"}
    assert "NepseInvalidResponseError" in caught.value.failed[0]
    snap = dataset.snapshot(root)
    assert snap.files("floorsheet") == snap.files("index_history") == []


def test_a_far_future_day_from_the_site_plans_no_pull(hostile_sim: HostileSim, tmp_path: Path) -> None:
    sim = hostile_sim("far-future-asof", **SMALL)
    since = dt.date.today() - dt.timedelta(days=30)
    with pytest.raises(NepseInvalidResponseError, match=FAR_FUTURE_AS_OF[:10]):
        run_sync(ClientSite(sim.base_url), tmp_path, since=since, tables=["floorsheet"])
    assert sim.stats()["requests_per_endpoint"].get("floorsheet", 0) == 0
    assert not (tmp_path / "manifest.json").exists()  # nothing recorded, not even an unavailable day


def test_a_plan_of_more_days_than_the_bound_is_refused_before_any_pull(
    nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=100, rate_limit=None)
    with pytest.raises(NepseInputError, match=r"would plan [\d,]+ trading days, more than 4,000"):
        run_sync(ClientSite(sim.base_url), tmp_path, since="1990-01-01", tables=["floorsheet"])
    assert sim.stats()["requests_per_endpoint"].get("floorsheet", 0) == 0


def test_a_table_folder_that_leads_outside_the_dataset_is_refused(
    nepse_sim_factory: Callable[..., Simulator], tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=100, rate_limit=None)
    root = tmp_path / "data"
    run_sync(ClientSite(sim.base_url), root, tables=["securities"])
    elsewhere = tmp_path / "elsewhere"
    (root / "securities").rename(elsewhere)
    os.symlink(elsewhere, root / "securities")

    with pytest.raises(dataset.DatasetCorruptError, match="is a symlink, which may lead outside"):
        dataset.open(root, "securities")
    with pytest.raises(dataset.DatasetCorruptError, match="is a symlink, which may lead outside"):
        run_sync(ClientSite(sim.base_url), root, tables=["securities"])
