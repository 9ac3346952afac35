"""``record``: the live market's ticks appended to a dataset, only what changed, a file per commit; killed with
SIGKILL at any step and started again, it resumes with no tick and no unchanged row written twice, and what it
holds at the end is what the simulator served."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dataset_checks import read_snapshot
from dataset_writers import RecordJob, kill_after, run_writer, start_writer
from stream_sources import polled, served

from nepse_ray import dataset
from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.sim import Simulator, SimulatorProcess
from nepse_ray.stream import FEEDS, Tick

SimFactory = Callable[..., Simulator]
LIVE: dict[str, Any] = {"trades": 500, "market_open": True, "live_trades_per_s": 10.0, "rate_limit": None}
AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=NEPAL_TZ)


@pytest.fixture
def live_process() -> Iterator[SimulatorProcess]:
    """A live simulator in a process of its own (the recorders are killed, not it)."""
    sim = SimulatorProcess(**LIVE)
    yield sim
    sim.close()


def recorded(root: Path) -> list[dict[str, Any]]:
    """Every recorded row of the last snapshot, in tick order."""
    table = dataset.open(root, "live_market").to_table()
    rows: list[dict[str, Any]] = table.sort_by([("tick_time", "ascending"), ("security_id", "ascending")]).to_pylist()
    return rows


def check_no_repeats(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Assert each security's rows are in tick order and each differs from the one before; the last of each."""
    last: dict[int, dict[str, Any]] = {}
    for row in rows:
        values = {k: v for k, v in row.items() if k not in ("tick_time", "business_date")}
        before = last.get(row["security_id"])
        assert before is None or (before["tick_time"] < row["tick_time"] and before["values"] != values), row
        last[row["security_id"]] = {"tick_time": row["tick_time"], "values": values}
    return {sid: entry["values"] for sid, entry in last.items()}


def truth(sim: Simulator | SimulatorProcess, state: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """What the simulator served when its trades added up to ``state``, as recorded rows."""
    day = dt.date.fromisoformat(sim.stats()["business_date"])
    shares = sum(row["total_trade_quantity"] for row in state.values())
    typed = FEEDS["live_market"].schema(served(sim.config, day, shares)).to_pylist()
    return {row["security_id"]: row for row in typed}


def test_a_recording_writes_the_first_snapshot_then_only_the_rows_that_changed(
    nepse_sim_factory: SimFactory, tmp_path: Path
) -> None:
    sim = nepse_sim_factory(**LIVE)
    ticks = list(polled(sim.base_url, polls=8))

    report = dataset.record(iter(ticks), tmp_path, per_file=3)

    rows = recorded(tmp_path)
    assert report.ticks == 8 and report.files == 3 and report.skipped == 0  # ticks 1-3, 4-6, 7-8
    assert report.rows == len(rows) == sum(len(tick) for tick in ticks)  # the changed rows, each once
    assert len(rows) < 8 * len(ticks[0])  # not eight snapshots
    assert {row["tick_time"] for row in rows} == {tick.at for tick in ticks if len(tick)}
    final = check_no_repeats(rows)
    assert final == truth(sim, final)
    snap = dataset.snapshot(tmp_path)
    assert len(snap.files("live_market")) == 3 and read_snapshot(tmp_path)
    assert "live_market: 3 file(s)" in str(dataset.status(tmp_path)) and "1 day(s) recorded" in str(
        dataset.status(tmp_path)
    )


def test_a_tick_not_later_than_the_last_recorded_is_skipped_and_an_unchanged_row_is_not_written_again(
    tmp_path: Path,
) -> None:
    def tick(second: int, prices: dict[int, float], snapshot: bool = False) -> Tick:
        rows = tuple({"securityId": str(sid), "symbol": f"S{sid}", "lastTradedPrice": p} for sid, p in prices.items())
        return Tick("live_market", None, second, AT + dt.timedelta(seconds=second), rows, snapshot=snapshot)

    first = dataset.record(iter([tick(1, {1: 10.0, 2: 20.0}, True), tick(2, {1: 11.0})]), tmp_path)
    again = dataset.record(iter([tick(2, {1: 11.0, 2: 20.0}, True), tick(3, {1: 11.0, 2: 21.0}, True)]), tmp_path)

    assert (first.rows, again.rows, again.skipped) == (3, 1, 1)  # tick 2 again: skipped; tick 3: only security 2
    prices = [(row["tick_time"].second, row["security_id"], row["last_traded_price"]) for row in recorded(tmp_path)]
    assert prices == [(1, 1, 10.0), (1, 2, 20.0), (2, 1, 11.0), (3, 2, 21.0)]
    with pytest.raises(NepseInputError, match="live_market stream, not nepse_index"):
        dataset.record(iter([Tick("nepse_index", None, 1, AT, ())]), tmp_path)


def test_a_recording_killed_at_every_step_resumes_with_no_tick_twice_and_ends_with_what_was_served(
    live_process: SimulatorProcess, tmp_path: Path
) -> None:
    for crash in ("after-manifest-rename:2", "before-data-rename:2", "before-manifest-rename:3"):
        assert run_writer(RecordJob(live_process.base_url, tmp_path, crash=crash)) == -9, crash
        read_snapshot(tmp_path)  # whole after every kill
    killed = start_writer(RecordJob(live_process.base_url, tmp_path, per_file=1))
    assert kill_after(killed, 1.5) == -9  # and one at no step in particular
    assert run_writer(RecordJob(live_process.base_url, tmp_path, polls=5)) == 0

    rows = recorded(tmp_path)
    read_snapshot(tmp_path)  # (tick_time, security_id) once each, rows as the manifest says
    final = check_no_repeats(rows)  # no unchanged row written again by a restart
    assert final == truth(live_process, final)
    assert len({row["tick_time"] for row in rows}) >= 8  # ticks of every run
