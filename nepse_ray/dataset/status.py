"""What a dataset holds and what the site would not give, read from its last committed manifest: the view behind
``nepse-ray sync DIR --status`` (no site, no pool, no lock).

One line per table (files, rows, bytes, the days or the range covered), then one line per unavailable day (why,
how often asked) and per stretch of history the site does not serve, and one per listed file that is missing or
torn (the next sync repairs it).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from . import plan
from .layout import SPECS
from .manifest import TableState, damaged_files
from .read import snapshot


@dataclasses.dataclass(frozen=True)
class DatasetStatus:
    root: Path
    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)


def status(directory: Path | str, *, verify: bool = False) -> DatasetStatus:
    """The state of the dataset in ``directory`` (``verify``: check every file's SHA-256, not only its size)."""
    snap = snapshot(directory)
    lines = [f"{snap.root}: the last committed snapshot"]
    for table in SPECS:
        state = snap.manifest.tables.get(table)
        if state is not None:
            lines.extend(_table_lines(table, state))
    for table, relative, problem in damaged_files(snap.root, snap.manifest, verify=verify):
        lines.append(f"  damaged {table}/{relative}: {problem}; the next sync fetches its rows again")
    return DatasetStatus(snap.root, tuple(lines))


def _table_lines(table: str, state: TableState) -> list[str]:
    size = sum(entry.bytes for entry in state.files.values())
    head = f"{table}: {len(state.files)} file(s), {state.rows:,} rows, {size / 1e6:,.1f} MB"
    kind = SPECS[table].kind
    if kind == "list":
        return [head + (f"; as of {state.listed.as_of}" if state.listed else "")]
    if kind == "days":
        complete = sorted(day for day, entry in state.days.items() if entry.status == "complete")
        missing = sorted((day, entry) for day, entry in state.days.items() if entry.status == "unavailable")
        span = f" ({complete[0]} .. {complete[-1]})" if complete else ""
        lines = [f"{head}; {len(complete)} day(s) complete{span}, {len(missing)} unavailable"]
        lines.extend(
            f"  unavailable {day}: {entry.reason} (asked {entry.attempts} time(s), the last on site day {entry.tried})"
            for day, entry in missing
        )
        return lines
    if kind == "ticks":
        days = sorted({relative.partition("/")[0].partition("=")[2] for relative in state.files})
        span = f" ({days[0]} .. {days[-1]})" if days else ""
        return [f"{head}; {len(days)} day(s) recorded{span}"]
    firsts = [entry.covered[0][0] for entry in state.series.values() if entry.covered]
    lasts = [entry.covered[-1][1] for entry in state.series.values() if entry.covered]
    span = f", covered {min(firsts)} .. {max(lasts)}" if firsts else ""
    lines = [f"{head}; {len(state.series)} series{span}"]
    gaps = [(key, gap) for key, entry in state.series.items() for gap in entry.unavailable]
    lines.extend(f"  not served: {line}" for line in plan.group_gaps(gaps))
    return lines
