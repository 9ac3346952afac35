"""Compaction: the small parts of a table's folder merged into one file, so the number of files stays bounded
however many syncs run.

Each sync adds a part per chunk of history series (``HISTORY_CHUNK`` symbols, or every index), so a year of daily
syncs would leave thousands of small files, which pyarrow and DuckDB open one by one. After a sync, a folder with
more than :data:`MAX_FILES` files has its files under :data:`SMALL_BYTES` merged: their rows read, sorted in the
table's order and written as one part whose entry covers what theirs covered. ``nepse-ray sync --compact`` merges
any folder with two small files or more.

A merge is one commit: the new part is written and flushed first, then a manifest that lists it instead of the
parts it replaces. A reader sees the parts or the merged file, never both and never neither; a crash before the
commit leaves the parts listed (the unlisted merged file is removed later), after it the merged file. The old
parts stay on disk for the grace period, for readers of older snapshots. The merged rows are sorted by the
table's keys and encoded canonically, so compaction keeps reruns byte-identical.

>>> from .manifest import FileEntry, TableState
>>> state = TableState(files={f"part-{n:016x}.parquet": FileEntry(rows=1, bytes=100, sha256="0" * 64)
...                           for n in range(3)})
>>> merges(state, force=False), len(merges(state, force=True)[""])
({}, 3)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import ranges
from .layout import SPECS, resolve
from .manifest import TableState
from .ranges import Range
from .writer import Writer, writing

#: Files a folder may hold before a sync compacts it.
MAX_FILES = 16
#: Files smaller than this are merged; larger ones are left as they are.
SMALL_BYTES = 64 * 1024 * 1024


def merges(state: TableState, *, force: bool) -> dict[str, list[str]]:
    """``{folder: files to merge}``: the small files of each folder past :data:`MAX_FILES` (``force``: with two
    small files or more)."""
    folders: dict[str, list[str]] = {}
    for relative in sorted(state.files):
        folders.setdefault(relative.rpartition("/")[0], []).append(relative)
    chosen = {}
    for folder, names in folders.items():
        small = [name for name in names if state.files[name].bytes < SMALL_BYTES]
        if len(small) >= 2 and (force or len(names) > MAX_FILES):
            chosen[folder] = small
    return chosen


def compact_table(writer: Writer, table: str, *, force: bool) -> int:
    """Merge the small parts of ``table`` that :func:`merges` chooses, each folder in one commit; files merged."""
    state = writer.state(table)
    merged = 0
    for folder, names in merges(state, force=force).items():
        rows = pa.concat_tables([pq.read_table(resolve(writer.root, table, name)) for name in names])
        covers: dict[str, list[Range]] = {}
        for name in names:
            for key, days in state.files[name].covers.items():
                covers[key] = ranges.merge([*covers.get(key, []), *days])
        day = dt.date.fromisoformat(folder.partition("=")[2]) if folder else None
        relative = writer.part(table, rows.sort_by(list(SPECS[table].sort)), day=day, covers=covers)
        for name in names:
            if name != relative:
                del state.files[name]
        for entry in state.days.values():
            if entry.file in names:
                entry.file = relative
        writer.commit()
        merged += len(names)
    return merged


def compact(directory: Path | str, *, tables: tuple[str, ...] = tuple(SPECS), wait: float = 0.0) -> dict[str, int]:
    """Merge every folder's small parts now (``nepse-ray sync --compact``); ``{table: files merged}``."""
    with writing(directory, wait=wait) as writer:
        return {table: n for table in tables if (n := compact_table(writer, table, force=True))}


def vacuum(directory: Path | str, *, wait: float = 0.0) -> list[str]:
    """Delete now every file no committed snapshot lists (``nepse-ray sync --vacuum``), without waiting for the
    grace period: a reader still reading an older snapshot may then fail. What was done, as lines."""
    with writing(directory, wait=wait, grace=0.0) as writer:
        pass
    return writer.notes
