"""Readers beside a writer (issue #24): each read is one committed snapshot, whole, while syncs, compactions and a
recording of the live market commit the next ones; torn and missing files are found and repaired; one writer at a
time."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import pytest
from dataset_checks import committed, read_snapshot
from dataset_site import ClientSite
from dataset_writers import Job, RecordJob, hold_lock, new_event, start_writer

from nepse_ray import dataset
from nepse_ray.cli import main
from nepse_ray.dataset.sync import run_sync
from nepse_ray.sim import Simulator, SimulatorProcess

SimFactory = Callable[..., Simulator]
HISTORIES = ("price_history", "index_history")
READS = 200


@dataclasses.dataclass
class Reads:
    failures: list[str] = dataclasses.field(default_factory=list)
    snapshots: set[str] = dataclasses.field(default_factory=set)
    writer_alive_after: bool = False


def read_beside(writer: BaseProcess, stop: Event, root: Path) -> Reads:
    """:data:`READS` reads of ``root``'s last snapshot (from its first commit on), 10 ms apart, then the writer is
    stopped."""
    reads, done = Reads(), 0
    while done < READS:
        if not (root / "manifest.json").exists():
            assert writer.is_alive(), "the writer ended before its first commit"
            time.sleep(0.01)
            continue
        try:
            reads.snapshots.add(read_snapshot(root))
        except Exception as error:
            reads.failures.append(f"{type(error).__name__}: {error}")
        done += 1
        time.sleep(0.01)
    reads.writer_alive_after = writer.is_alive()
    stop.set()
    writer.join(120)
    return reads


def site_day(sim: Simulator | SimulatorProcess) -> dt.date:
    return dt.date.fromisoformat(sim.stats()["business_date"])


@pytest.fixture
def sim_process() -> Iterator[Callable[..., SimulatorProcess]]:
    """Simulators in processes of their own: a reader busy in this process would slow an in-process one."""
    started: list[SimulatorProcess] = []

    def make(**config: Any) -> SimulatorProcess:
        started.append(SimulatorProcess(rate_limit=None, **config))
        return started[-1]

    yield make
    for sim in started:
        sim.close()


def test_200_reads_while_syncs_commit_see_whole_snapshots_only(
    sim_process: Callable[..., SimulatorProcess], tmp_path: Path
) -> None:
    sim = sim_process(trades=300, past_days=40, latency_ms=5)
    today = site_day(sim)
    syncs = tuple(((today - dt.timedelta(days=3 * k)).isoformat(), tuple(dataset.TABLES)) for k in range(1, 20))
    stop = new_event()
    writer = start_writer(Job(sim.base_url, tmp_path, syncs), stop)

    reads = read_beside(writer, stop, tmp_path)

    assert reads.failures == []
    assert reads.writer_alive_after, "the syncs ended before the reads did: give the writer more to do"
    assert len(reads.snapshots) >= 5  # the reads really interleaved with commits
    assert writer.exitcode == 0


def test_200_reads_while_compactions_replace_parts_never_see_both_or_neither(
    sim_process: Callable[..., SimulatorProcess], tmp_path: Path
) -> None:
    sim = sim_process(trades=100)
    today = site_day(sim)
    # Each sync reaches ten days further back (a new part per table), and each compaction merges the parts.
    syncs = tuple(((today - dt.timedelta(days=10 * k)).isoformat(), HISTORIES) for k in range(1, 33))
    stop = new_event()
    writer = start_writer(Job(sim.base_url, tmp_path, syncs, compact=True), stop)

    reads = read_beside(writer, stop, tmp_path)

    assert reads.failures == []
    assert reads.writer_alive_after, "the compactions ended before the reads did: give the writer more to do"
    assert len(reads.snapshots) >= 5
    snap = dataset.snapshot(tmp_path)
    assert [len(snap.files(table)) for table in HISTORIES] == [1, 1]  # compacted after every sync


def test_200_reads_while_a_recording_commits_ticks_and_compacts_them_see_whole_snapshots_only(
    sim_process: Callable[..., SimulatorProcess], tmp_path: Path
) -> None:
    sim = sim_process(trades=300, market_open=True, live_trades_per_s=20.0)
    stop = new_event()
    writer = start_writer(RecordJob(sim.base_url, tmp_path, interval=0.02, per_file=1), stop)  # a commit a tick

    reads = read_beside(writer, stop, tmp_path)

    assert reads.failures == []
    assert reads.writer_alive_after, "the recording ended before the reads did"
    assert len(reads.snapshots) >= 5
    assert writer.exitcode == 0  # stopped cleanly, its last ticks committed
    assert 0 < len(dataset.snapshot(tmp_path).files("live_market")) <= 17  # compacted past 16 files a day


def test_a_reader_keeps_reading_its_snapshot_after_a_commit_replaced_its_files(
    nepse_sim_factory: SimFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = nepse_sim_factory(trades=100, rate_limit=None)
    site = ClientSite(sim.base_url)
    today = site_day(sim)
    for days in (10, 20):
        run_sync(site, tmp_path, since=today - dt.timedelta(days=days), tables=HISTORIES)
    opened = dataset.open(tmp_path, "price_history")  # two parts
    assert main(["sync", str(tmp_path), "--compact"]) == 0
    assert (
        capsys.readouterr().out
        == f"{tmp_path}: compacted (price_history: 2 files merged, index_history: 2 files merged)\n"
    )

    assert opened.to_table().num_rows == dataset.open(tmp_path, "price_history").to_table().num_rows
    assert main(["sync", str(tmp_path), "--vacuum", "--compact"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path}: nothing to compact",
        f"{tmp_path}: removed 4 file(s) no snapshot has listed for 0 s",
    ]
    with pytest.raises(FileNotFoundError):  # --vacuum does not wait: an old snapshot's files are gone
        opened.to_table()


def test_a_torn_file_and_a_missing_one_are_found_and_fetched_again(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = nepse_sim_factory(trades=300, past_days=2, rate_limit=None)
    site = ClientSite(sim.base_url)
    since = site_day(sim) - dt.timedelta(days=5)
    run_sync(site, tmp_path, since=since)
    whole = committed(tmp_path)
    snap = dataset.snapshot(tmp_path)
    torn, lost, changed = snap.files("floorsheet")[0], snap.files("price_history")[0], snap.files("companies")[0]
    os.truncate(torn, os.path.getsize(torn) // 2)  # a final name over half a file, as a power loss can leave
    os.unlink(lost)
    data = bytearray(Path(changed).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(changed).write_bytes(data)

    shown = str(dataset.status(tmp_path))
    assert "instead of" in shown and "missing" in shown and "SHA-256" not in shown
    report = run_sync(site, tmp_path, since=since)

    assert [line.split(":")[0] for line in report.repaired] == sorted(
        str(Path(path).relative_to(snap.root)) for path in (torn, lost)
    )
    assert "torn" in report.repaired[0] or "torn" in report.repaired[1]
    assert Path(changed).read_bytes() == bytes(data)  # sizes match: only --verify reads the bytes
    verified = run_sync(site, tmp_path, since=since, verify=True)
    assert len(verified.repaired) == 1 and "SHA-256" in verified.repaired[0]
    assert committed(tmp_path) == whole
    assert str(run_sync(site, tmp_path, since=since)) == "up to date: nothing fetched, no file changed"


def test_a_second_writer_fails_clearly_or_waits_and_a_dead_writers_lock_is_taken_over(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    site = ClientSite(nepse_sim_factory(trades=100, rate_limit=None).base_url)
    tables = ["securities"]
    holder, release = hold_lock(tmp_path)
    with pytest.raises(dataset.DatasetLockedError, match=rf"being written by pid {holder.pid} on "):
        run_sync(site, tmp_path, tables=tables)
    threading.Timer(0.5, release.set).start()
    waited = run_sync(site, tmp_path, tables=tables, wait=60)
    assert waited.pulls == 1 and not waited.notes
    holder.join(30)

    dead, _ = hold_lock(tmp_path)
    dead.kill()
    dead.join(30)
    report = run_sync(site, tmp_path, tables=["companies"])
    assert len(report.notes) == 1 and report.notes[0].startswith(f"took over the lock left by pid {dead.pid} on ")


@pytest.mark.parametrize("command", ["sync", "record"])
def test_a_held_dataset_fails_before_a_pool_starts_unless_told_to_wait(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    connected: list[str] = []

    def no_pool(*args: Any, **kwargs: Any) -> Any:
        connected.append(command)
        raise dataset.DatasetLockedError("the pool was asked for")

    monkeypatch.setattr("nepse_ray.cli._connection", no_pool)
    dataset.lock.refuse_if_held(tmp_path / "new")  # no dataset, no lock file: nothing to refuse, nothing made
    assert not (tmp_path / "new").exists()
    holder, release = hold_lock(tmp_path)
    try:
        assert main([command, str(tmp_path)]) == 1
        assert connected == []  # refused before any pool was asked for
        assert f"DatasetLockedError: {tmp_path} is being written by pid {holder.pid} on " in capsys.readouterr().err
        assert main([command, str(tmp_path), "--wait", "5"]) == 1  # told to wait: the writer's own lock waits
        assert connected == [command]
    finally:
        release.set()
        holder.join(30)
    assert main([command, str(tmp_path)]) == 1 and connected == [command, command]  # free: the pool is asked for
