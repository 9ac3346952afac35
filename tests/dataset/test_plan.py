"""The dataset's pure rules, without a site: day ranges, what a sync plans, what an answer proves, the names a file
may have, compaction's choice and the lock's wait (with a fake clock)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nepse_ray.dataset import plan, ranges
from nepse_ray.dataset.compact import MAX_FILES, SMALL_BYTES, merges
from nepse_ray.dataset.errors import DatasetCorruptError, DatasetLockedError
from nepse_ray.dataset.layout import check_relative_path, is_valid_symbol, resolve
from nepse_ray.dataset.lock import WriterLock
from nepse_ray.dataset.manifest import DayEntry, FileEntry, Manifest, TableState
from nepse_ray.nepse.errors import NepseInputError, NepseInvalidResponseError

d = dt.date.fromisoformat
MONDAY, TUESDAY, WEDNESDAY = d("2026-11-30"), d("2026-12-01"), d("2026-12-02")


def test_ranges_merge_subtract_and_intersect() -> None:
    merged = ranges.merge([(d("2026-01-05"), d("2026-01-09")), (d("2026-01-01"), d("2026-01-04")), (MONDAY, MONDAY)])
    assert merged == [(d("2026-01-01"), d("2026-01-09")), (MONDAY, MONDAY)]
    assert ranges.subtract(merged, [(d("2026-01-03"), d("2026-01-04"))]) == [
        (d("2026-01-01"), d("2026-01-02")),
        (d("2026-01-05"), d("2026-01-09")),
        (MONDAY, MONDAY),
    ]
    assert ranges.intersect(merged, (d("2026-01-08"), MONDAY)) == [(d("2026-01-08"), d("2026-01-09")), (MONDAY, MONDAY)]
    assert ranges.contains(merged, d("2026-01-09")) and not ranges.contains(merged, d("2026-01-10"))


def test_the_site_day_is_the_day_before_while_open_and_never_after_this_machines_date() -> None:
    as_of = dt.datetime(2026, 12, 1, 12, 0)
    assert plan.SiteDay.of(as_of, "OPEN", TUESDAY) == plan.SiteDay(TUESDAY, MONDAY)
    assert plan.SiteDay.of(as_of, "CLOSE", MONDAY) == plan.SiteDay(TUESDAY, TUESDAY)  # Nepal runs ahead of us
    with pytest.raises(NepseInvalidResponseError, match="after this machine's date 2026-11-29"):
        plan.SiteDay.of(as_of, "CLOSE", d("2026-11-29"))


def test_a_plan_is_bounded_without_listing_its_days() -> None:
    plan.check_span(d("2012-06-01"), TUESDAY)
    with pytest.raises(NepseInputError, match=r"would plan 5,\d{3} trading days, more than 4,000"):
        plan.check_span(d("2006-01-01"), TUESDAY)
    with pytest.raises(NepseInputError, match="more than 4,000"):
        plan.check_span(d("0001-01-01"), d("9999-12-30"))
    assert len(plan.trading_days(d("2026-11-29"), d("2026-12-05"))) == 5  # Sunday .. Thursday


def test_unavailable_days_are_asked_again_on_later_site_days_three_times_at_most() -> None:
    state = TableState(days={MONDAY: plan.unavailable_day(None, MONDAY, "the site returned no rows for it")})
    assert plan.days_to_fetch(state, [MONDAY], MONDAY, retry_unavailable=False) == []  # not again the same day
    assert plan.days_to_fetch(state, [MONDAY], TUESDAY, retry_unavailable=False) == [MONDAY]
    for day in (TUESDAY, WEDNESDAY):
        state.days[MONDAY] = plan.unavailable_day(state.days[MONDAY], day, "still nothing")
    assert state.days[MONDAY].attempts == 3
    assert plan.days_to_fetch(state, [MONDAY], d("2026-12-03"), retry_unavailable=False) == []
    assert plan.days_to_fetch(state, [MONDAY], d("2026-12-03"), retry_unavailable=True) == [MONDAY]
    state.days[TUESDAY] = DayEntry(status="complete", file=None, rows=5)
    assert plan.days_to_fetch(state, [TUESDAY, WEDNESDAY], WEDNESDAY, retry_unavailable=True) == [WEDNESDAY]


def test_a_day_is_complete_only_when_every_row_carries_it() -> None:
    assert plan.day_problem(MONDAY, [MONDAY, MONDAY]) is None
    assert plan.day_problem(MONDAY, []) == "the site returned no rows for it"
    assert plan.day_problem(MONDAY, [MONDAY, TUESDAY]) == "the site answered with rows of 2026-12-01, not of 2026-11-30"


def test_history_within_the_window_is_trusted_and_older_days_only_from_the_first_row() -> None:
    window = d("2025-12-01")
    asked = (d("2021-12-01"), TUESDAY)
    assert plan.history_outcome(asked, [d("2025-12-03"), TUESDAY], window) == (
        (window, TUESDAY),
        (d("2021-12-01"), d("2025-11-30"), plan.WINDOW_REASON),
    )
    older = plan.history_outcome(asked, [d("2025-06-01")], window)  # a site that gives more: covered from its row
    assert older[0] == (d("2025-06-01"), TUESDAY)
    assert plan.history_outcome((MONDAY, TUESDAY), [], window) == ((MONDAY, TUESDAY), None)  # no trade, trusted
    assert plan.history_outcome((d("2020-01-01"), d("2020-12-31")), [], window) == (
        None,
        (d("2020-01-01"), d("2020-12-31"), plan.WINDOW_REASON),
    )


def test_history_gaps_skip_what_is_covered_and_what_is_known_unavailable() -> None:
    state = TableState()
    state.cover("NABIL", (d("2026-11-01"), MONDAY))
    state.mark_unavailable("NABIL", (d("2026-01-01"), d("2026-10-31"), "old"))
    gaps = plan.history_gaps(state, ["NABIL", "NICA"], d("2026-01-01"), WEDNESDAY, retry_unavailable=False)
    assert gaps == {"NABIL": [(TUESDAY, WEDNESDAY)], "NICA": [(d("2026-01-01"), WEDNESDAY)]}
    again = plan.history_gaps(state, ["NABIL"], d("2026-01-01"), WEDNESDAY, retry_unavailable=True)
    assert again == {"NABIL": [(d("2026-01-01"), d("2026-10-31")), (TUESDAY, WEDNESDAY)]}
    state.cover("NABIL", (d("2026-10-01"), d("2026-10-31")))  # given after all: no longer unavailable
    assert state.series["NABIL"].unavailable == [(d("2026-01-01"), d("2026-09-30"), "old")]
    assert plan.group_gaps([("B", (MONDAY, MONDAY, "x")), ("A", (MONDAY, MONDAY, "x"))]) == [
        "2026-11-30 .. 2026-11-30 for A, B: x"
    ]


def test_a_lost_file_takes_back_what_it_covered() -> None:
    state = TableState()
    state.add_file("part-0000000000000001.parquet", FileEntry(rows=3, bytes=1, sha256="0" * 64, covers={
        "NABIL": [(d("2026-11-01"), MONDAY)]}))  # fmt: skip
    state.cover("NABIL", (d("2026-10-01"), MONDAY))
    state.drop_file("part-0000000000000001.parquet")
    assert state.series["NABIL"].covered == [(d("2026-10-01"), d("2026-10-31"))] and not state.files


@pytest.mark.parametrize(
    ("table", "name"),
    [
        ("floorsheet", "../part-0123456789abcdef.parquet"),
        ("floorsheet", "business_date=2026-11-30/../../x/part-0123456789abcdef.parquet"),
        ("floorsheet", "business_date=2026-13-45/part-0123456789abcdef.parquet"),
        ("price_history", "symbol=NABIL/part-0123456789abcdef.parquet"),
        ("price_history", "/etc/passwd"),
        ("securities", "part-0123456789abcdef.parquet.tmp"),
    ],
)
def test_a_manifest_naming_a_file_nepse_ray_never_writes_is_refused(table: str, name: str) -> None:
    with pytest.raises(DatasetCorruptError, match="a name nepse-ray never writes"):
        check_relative_path(table, name)
    with pytest.raises(DatasetCorruptError):
        Manifest.model_validate({"tables": {table: {"files": {name: {"rows": 1, "bytes": 1, "sha256": "0" * 64}}}}})


def test_symbols_are_nepse_symbols_and_paths_never_pass_through_a_symlink(tmp_path: Path) -> None:
    assert [is_valid_symbol(s) for s in ("NABIL", "NICAD85/86", "HIDCLP", "..", ".", "/tmp/x", "A\x1b[2J", "", 7)] == [
        True, True, True, False, False, False, False, False, False]  # fmt: skip
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "floorsheet").mkdir()
    (tmp_path / "floorsheet" / "business_date=2026-11-30").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(DatasetCorruptError, match="is a symlink"):
        resolve(tmp_path, "floorsheet", "business_date=2026-11-30/part-0123456789abcdef.parquet")


def test_compaction_chooses_small_files_past_the_threshold_folder_by_folder() -> None:
    def entry(size: int) -> FileEntry:
        return FileEntry(rows=1, bytes=size, sha256="0" * 64)

    many = {f"part-{n:016x}.parquet": entry(100) for n in range(MAX_FILES + 1)}
    big = {f"part-{n:016x}.parquet": entry(SMALL_BYTES) for n in range(100, 102)}
    chosen = merges(TableState(files={**many, **big}), force=False)
    assert chosen == {"": sorted(many)}
    assert merges(TableState(files=dict(list(many.items())[:3])), force=False) == {}
    days = {f"business_date=2026-11-30/part-{n:016x}.parquet": entry(100) for n in range(2)}
    assert merges(TableState(files=days), force=True) == {"business_date=2026-11-30": sorted(days)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_second_lock_waits_its_time_then_names_the_holder(tmp_path: Path) -> None:
    with WriterLock(tmp_path):
        clock = FakeClock()
        waiting = WriterLock(tmp_path, wait=5.0, clock=clock, sleep=clock.sleep)
        with pytest.raises(DatasetLockedError, match=r"being written by pid \d+ on .* after waiting 5 s") as caught:
            waiting.__enter__()
        assert clock.now == pytest.approx(5.0)
        assert "--wait SECONDS" in str(caught.value)
    with WriterLock(tmp_path) as free:
        assert free.taken_over is None  # released cleanly: nobody died holding it
