"""A writer killed at every step (issue #24): SIGKILL just before and after each rename and manifest commit (the
fault points of ``nepse_ray.dataset.crash``) and at random instants. After each kill the last committed snapshot
reads whole, nothing half-written is visible, and a rerun ends byte for byte where an uninterrupted run ends."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from dataset_checks import committed, read_snapshot, temporary_files
from dataset_writers import Job, kill_after, run_writer, start_writer

from nepse_ray import dataset
from nepse_ray.dataset.crash import POINTS
from nepse_ray.sim import Simulator

SimFactory = Callable[..., Simulator]
RANDOM_KILLS = 20
KILLS_PER_DATASET = 5


def job_on(sim: Simulator, root: Path) -> Job:
    """Every table for four days, then the histories three weeks further back, then a compaction: every kind of
    commit a writer makes."""
    today = dt.date.fromisoformat(sim.stats()["business_date"])
    days, weeks = (today - dt.timedelta(days=d) for d in (4, 21))
    syncs = ((days.isoformat(), dataset.TABLES), (weeks.isoformat(), ("price_history", "index_history")))
    return Job(sim.base_url, root, syncs, compact=True)


@dataclasses.dataclass(frozen=True)
class Market:
    sim: Simulator
    whole: dict[str, bytes]  # the dataset an uninterrupted writer makes of it
    seconds: float  # how long that writer took


@pytest.fixture
def market(nepse_sim_factory: SimFactory, tmp_path: Path) -> Market:
    """A small simulated market, and what an uninterrupted writer makes of it."""
    sim = nepse_sim_factory(trades=200, past_days=3, rate_limit=None)
    started = time.perf_counter()
    job_on(sim, tmp_path / "whole").run()
    return Market(sim, committed(tmp_path / "whole"), time.perf_counter() - started)


def check_readable(root: Path) -> None:
    """The last committed snapshot (if any) reads whole; temporary files are never among its files."""
    if (root / "manifest.json").exists():
        read_snapshot(root)
        snap = dataset.snapshot(root)
        listed = {path for table in dataset.TABLES for path in snap.files(table)}
        assert not listed & {str(path) for path in temporary_files(root)}


def test_a_writer_killed_just_before_and_after_every_rename_and_commit_converges(
    market: Market, tmp_path: Path
) -> None:
    # Each writer dies at the first point of its turn it reaches; its successor redoes the unfinished step and dies at
    # the next point, so every step of the job is cut at each of the four points in turn.
    job = job_on(market.sim, tmp_path / "killed")
    kills: collections.Counter[str] = collections.Counter()
    for point in itertools.cycle(POINTS):
        code = run_writer(dataclasses.replace(job, crash=point))
        if code == 0:
            break
        assert code == -9
        kills[point] += 1
        check_readable(job.root)
        assert kills.total() < 400, "the writers make no progress"

    assert committed(job.root) == market.whole
    assert temporary_files(job.root) == []
    assert min(kills[point] for point in POINTS) >= 5, kills


def test_writers_killed_at_random_instants_end_where_an_uninterrupted_one_ends(market: Market, tmp_path: Path) -> None:
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    codes = []
    for run in range(RANDOM_KILLS // KILLS_PER_DATASET):
        job = job_on(market.sim, tmp_path / f"killed-{run}")
        for _ in range(KILLS_PER_DATASET):
            codes.append(kill_after(start_writer(job), rng.uniform(0.02, market.seconds / 2)))
            check_readable(job.root)
        assert run_writer(job) == 0
        assert committed(job.root) == market.whole, f"seed {seed}, dataset {run}, exit codes {codes}"
    assert codes.count(-9) >= RANDOM_KILLS // 2, f"most writers should die before they finish: {codes}"
