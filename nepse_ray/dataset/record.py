"""``record``: a live-market stream appended to the dataset, a Parquet file per commit, under the same manifest and
commit rules as a sync.

Each tick's rows that differ from what the dataset already holds for that security that day are written with the
tick's time (``tick_time``, when the poll was answered) to ``live_market/business_date=.../``: the first tick of a
day (a snapshot) writes every security, each later one the securities whose row changed. Rows gather in memory and
are committed as one part every ``every`` seconds or ``ticks`` ticks, whichever comes first, and when the stream
ends (at the market's close with ``until_close``); after each commit, a day folder past the compaction threshold
has its small files merged (:mod:`.compact`). Readers see whole commits only, as beside a sync.

A recording killed at any instant (SIGKILL included) loses the ticks since its last commit and nothing before it.
Started again, it reads the day's last committed rows, skips any tick not later than the last one recorded, and
writes only what differs from the recorded state, so no tick and no unchanged row is written twice: the first tick
of the new run (a snapshot) records the securities that moved while it was down, at its own time.

>>> report = record(api.stream("live_market", 5.0, until_close=True), "nepse-data")    # doctest: +SKIP
>>> dataset.open("nepse-data", "live_market").to_table().num_rows == report.rows       # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Hashable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..nepse import tables
from ..nepse.errors import NepseInputError
from ..nepse.payload import NEPAL_TZ
from ..stream.tick import Tick
from .compact import compact_table
from .layout import SPECS, resolve
from .writer import Writer, writing

TABLE = "live_market"
#: The column a tick's time goes to.
TICK_TIME = "tick_time"
#: Seconds between two commits by default.
EVERY = 60.0
#: Ticks between two commits by default.
TICKS = 12


@dataclasses.dataclass
class RecordReport:
    """What a recording did: ticks taken, ticks skipped (not later than one already recorded), rows and files
    written, days touched."""

    ticks: int = 0
    skipped: int = 0
    rows: int = 0
    files: int = 0
    days: set[dt.date] = dataclasses.field(default_factory=set)
    notes: list[str] = dataclasses.field(default_factory=list)

    def details(self) -> list[str]:
        """What else happened (a dead writer's lock taken over, old files removed), a line each."""
        return list(self.notes)

    def __str__(self) -> str:
        days = ", ".join(str(day) for day in sorted(self.days)) or "no day"
        skipped = f" ({self.skipped} already recorded, skipped)" if self.skipped else ""
        return f"recorded {self.ticks} tick(s){skipped}: {self.rows:,} rows in {self.files} file(s), {days}"


def record(
    ticks: Iterable[Tick],
    directory: Path | str,
    *,
    every: float = EVERY,
    per_file: int = TICKS,
    wait: float = 0.0,
    durable: bool = True,
    clock: Callable[[], float] = time.monotonic,
    on_commit: Callable[[RecordReport], None] | None = None,
) -> RecordReport:
    """Append the live-market ``ticks`` to the dataset in ``directory`` until they end; a commit every ``every``
    seconds or ``per_file`` ticks. ``wait`` is how long to wait for another writer's lock."""
    if not every > 0 or per_file < 1:
        raise NepseInputError(f"commit every positive number of seconds and ticks, got {every!r} s and {per_file!r}")
    report = RecordReport()
    with writing(directory, wait=wait, durable=durable) as writer:
        run = _Recording(writer, report)
        started = clock()
        try:
            for tick in ticks:
                if tick.feed != TABLE:
                    raise NepseInputError(f"record takes the live_market stream, not {tick.feed}")
                run.take(tick)
                if run.pending_ticks >= per_file or (run.pending_ticks and clock() - started >= every):
                    run.commit()
                    started = clock()
                    if on_commit is not None:
                        on_commit(report)
        finally:
            run.commit()  # what arrived before an interruption (Ctrl-C) is kept
    report.notes.extend(writer.notes)
    return report


class _Recording:
    """The recorded state of each day (security id -> last row), the rows not yet committed, and the commits."""

    def __init__(self, writer: Writer, report: RecordReport) -> None:
        self.writer = writer
        self.report = report
        self.pending_ticks = 0
        self._pending: dict[dt.date, list[pa.Table]] = {}
        self._state: dict[dt.date, dict[Hashable, dict[str, Any]]] = {}
        self._last: dict[dt.date, dt.datetime] = {}

    def take(self, tick: Tick) -> None:
        at = tick.at.astimezone(NEPAL_TZ)
        day = at.date()
        state = self._day(day)
        self.report.ticks += 1
        last = self._last.get(day)
        if last is not None and at <= last:
            self.report.skipped += 1
            return
        self._last[day] = at
        rows = tick.to_arrow()
        changed = [i for i, row in enumerate(rows.to_pylist()) if state.get(row["security_id"]) != row]
        for i in changed:
            row = rows.slice(i, 1).to_pylist()[0]
            state[row["security_id"]] = row
        if changed:
            taken = rows.take(pa.array(changed, pa.int64()))
            stamp = pa.array([at] * taken.num_rows, pa.timestamp("us", tz=tables.NEPAL_TZ))
            self._pending.setdefault(day, []).append(taken.add_column(0, TICK_TIME, stamp))
        self.pending_ticks += 1

    def commit(self) -> None:
        """One part per day of the pending rows, committed; then compaction of a folder past its threshold."""
        for day, parts in sorted(self._pending.items()):
            rows = pa.concat_tables(parts).sort_by(list(SPECS[TABLE].sort))
            self.writer.part(TABLE, rows, day=day)
            self.report.rows += rows.num_rows
            self.report.files += 1
            self.report.days.add(day)
        self._pending.clear()
        self.pending_ticks = 0
        self.writer.commit()
        compact_table(self.writer, TABLE, force=False)

    def _day(self, day: dt.date) -> dict[Hashable, dict[str, Any]]:
        """The last committed row of each security on ``day`` (read from the dataset the first time)."""
        state = self._state.get(day)
        if state is None:
            state = self._state[day] = {}
            folder = f"business_date={day.isoformat()}/"
            names = [name for name in self.writer.state(TABLE).files if name.startswith(folder)]
            files = [resolve(self.writer.root, TABLE, name) for name in names]
            if files:
                rows = pa.concat_tables([pq.read_table(path) for path in files]).sort_by(TICK_TIME)
                self._last[day] = pc.max(rows[TICK_TIME]).as_py()
                for row in rows.drop_columns([TICK_TIME]).to_pylist():
                    state[row["security_id"]] = row
        return state
