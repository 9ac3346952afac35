"""Files the dataset writer and the pull sinks create and delete (issue #17): never through a symlink planted at a
name they use, never a file they did not write, never in a folder of someone else's files. The real simulator and
client, real files."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from dataset_site import ClientPageSource, ClientSite

from nepse_ray import dataset
from nepse_ray.dataset.sync import run_sync
from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseInputError, NepseServerError
from nepse_ray.pulls import IncompletePullError
from nepse_ray.pulls.engine import PullLimits
from nepse_ray.pulls.market import FLOORSHEET_ORDER, floorsheet_series
from nepse_ray.pulls.runner import pull_through
from nepse_ray.sim import Simulator

SimFactory = Callable[..., Simulator]


def planted(tmp_path: Path, at: Path) -> Path:
    """A file of someone else's, and a symlink to it planted at ``at``."""
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    at.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(victim, at)
    return victim


def test_a_pull_never_writes_through_a_symlink_planted_at_its_partial_name(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=1_200, rate_limit=None)
    out = tmp_path / "out" / "day.parquet"
    victim = planted(tmp_path, out.with_name("day.parquet.partial"))
    with NepseClient(sim.base_url, rate=1_000.0, burst=50) as client:
        result = pull_through(ClientPageSource(client, None), [floorsheet_series(None)], out=out, sort=FLOORSHEET_ORDER)

        assert victim.read_text() == "keep me"
        assert pq.read_table(out).num_rows == result.rows == 1_200

        def page_2_fails(endpoint: str, params: dict[str, Any]) -> Exception | None:
            return NepseServerError("502", endpoint=endpoint) if params["page"] == 2 else None

        short = ClientPageSource(client, page_2_fails)
        with pytest.raises(IncompletePullError):
            pull_through(short, [floorsheet_series(None)], out=out, limits=PullLimits(max_rounds=1, round_delay=0))
    assert victim.read_text() == "keep me"  # the rows that arrived replaced the symlink, not its target
    assert not out.with_name("day.parquet.partial").is_symlink()


def test_sync_deletes_only_files_it_wrote(nepse_sim_factory: SimFactory, tmp_path: Path) -> None:
    sim = nepse_sim_factory(trades=200, past_days=2, rate_limit=None)
    site = ClientSite(sim.base_url)
    today = dt.date.fromisoformat(sim.stats()["business_date"])
    run_sync(site, tmp_path, since=today - dt.timedelta(days=1), tables=["floorsheet"])
    theirs = [
        tmp_path / "notes.partial",
        tmp_path / "floorsheet" / "mine.partial",
        tmp_path / "floorsheet" / f"business_date={today}" / "part-0.parquet.partial",
        tmp_path / "analysis" / "result.parquet",
    ]
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("someone else's")

    run_sync(site, tmp_path, since=today - dt.timedelta(days=5), tables=["floorsheet"])
    assert [path.read_text() for path in theirs] == ["someone else's"] * len(theirs)
    dataset.vacuum(tmp_path)
    assert [path.read_text() for path in theirs] == ["someone else's"] * len(theirs)


def test_sync_refuses_a_folder_of_other_files_without_a_manifest(nepse_sim_factory: SimFactory, tmp_path: Path) -> None:
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / "report.partial").write_text("half a download")
    (downloads / "photo.jpg").write_bytes(b"\xff\xd8")
    site = ClientSite(nepse_sim_factory(trades=100, rate_limit=None).base_url)

    with pytest.raises(NepseInputError, match="already holds files and no nepse-ray manifest") as caught:
        run_sync(site, downloads, tables=["securities"])
    assert isinstance(caught.value, dataset.NotADatasetError)
    assert sorted(path.name for path in downloads.iterdir()) == ["photo.jpg", "report.partial"]
