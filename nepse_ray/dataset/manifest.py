"""``manifest.json``: the one commit point of a dataset. It lists every file of the current snapshot (with its rows,
size and SHA-256) and what each table covers; a file that it does not list is not part of the dataset.

A writer changes the dataset only by :meth:`CommitPoint.commit`: the files of the next snapshot are already in
place (written by :mod:`.store`), then the new manifest is written whole to a temporary file, flushed to disk,
renamed over the old one and the folder flushed. A reader reads the manifest once and then only the files it
lists, which never change (a new content is a new file) and are deleted only after a grace period (:mod:`.store`).
So a crash at any instant leaves the old snapshot or the new one, and a reader sees one of them, whole.

The manifest holds no clock and is written with sorted keys: the same dataset gives the same bytes.

>>> manifest = Manifest()
>>> state = manifest.table("index_history")
>>> state.add_file("part-0123456789abcdef.parquet", FileEntry(rows=2, bytes=10, sha256="0" * 64))
>>> state.cover("58", (dt.date(2026, 1, 1), dt.date(2026, 1, 31)))
>>> sorted(manifest.file_paths()), state.series["58"].covered[0][1].isoformat()
([('index_history', 'part-0123456789abcdef.parquet')], '2026-01-31')
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..pulls.files import open_temporary, publish, sync_and_close
from . import ranges
from .crash import crash_point
from .errors import NotADatasetError
from .layout import MANIFEST, SPECS, check_relative_path, resolve
from .ranges import Range

FORMAT: Literal[2] = 2
#: An unavailable stretch of a series: first and last day, and why the site did not give it.
Gap = tuple[dt.date, dt.date, str]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileEntry(_Model):
    """One file of the snapshot. ``covers``: for history tables, the days of each series the file was written for
    (a file lost to a crash or a disk is fetched again from that)."""

    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    covers: dict[str, list[Range]] = {}


class ListEntry(_Model):
    """A list table: the site's day it was taken on, and its file."""

    as_of: dt.date
    file: str
    rows: int = Field(ge=0)


class DayEntry(_Model):
    """A trading day of a *days* table: complete (with its file), or unavailable (with why, and how often asked)."""

    status: Literal["complete", "unavailable"]
    file: str | None = None
    rows: int = Field(default=0, ge=0)
    attempts: int = Field(default=0, ge=0)
    tried: dt.date | None = None
    reason: str | None = None


class SeriesEntry(_Model):
    """A series of a history table (a symbol, an index): the days covered, and the stretches the site would not
    give."""

    covered: list[Range] = []
    unavailable: list[Gap] = []


class TableState(_Model):
    files: dict[str, FileEntry] = {}
    listed: ListEntry | None = None
    days: dict[dt.date, DayEntry] = {}
    series: dict[str, SeriesEntry] = {}

    def add_file(self, relative: str, entry: FileEntry) -> None:
        self.files[relative] = entry

    def cover(self, key: str, days: Range) -> None:
        """Record ``days`` of series ``key`` as covered (and no longer unavailable)."""
        entry = self.series.setdefault(key, SeriesEntry())
        entry.covered = ranges.merge([*entry.covered, days])
        entry.unavailable = [
            (first, last, why) for a, b, why in entry.unavailable for first, last in ranges.subtract([(a, b)], [days])
        ]

    def mark_unavailable(self, key: str, gap: Gap) -> None:
        entry = self.series.setdefault(key, SeriesEntry())
        entry.unavailable = sorted({*entry.unavailable, gap})

    def drop_file(self, relative: str) -> None:
        """Forget a file and everything it held, so that the next sync fetches it again."""
        entry = self.files.pop(relative)
        if self.listed is not None and self.listed.file == relative:
            self.listed = None
        self.days = {day: e for day, e in self.days.items() if e.file != relative}
        for key, lost in entry.covers.items():
            if key in self.series:
                self.series[key].covered = ranges.subtract(self.series[key].covered, lost)

    @property
    def rows(self) -> int:
        return sum(entry.rows for entry in self.files.values())


class Manifest(_Model):
    format: Literal[2] = FORMAT
    tables: dict[str, TableState] = {}

    @field_validator("tables")
    @classmethod
    def _known_tables_and_file_names(cls, tables: dict[str, TableState]) -> dict[str, TableState]:
        for name, state in tables.items():
            if name not in SPECS:
                raise ValueError(f"unknown table {name!r}")
            for relative in state.files:
                check_relative_path(name, relative)
        return tables

    @model_validator(mode="after")
    def _every_named_file_is_listed(self) -> Manifest:
        for name, state in self.tables.items():
            named = [e.file for e in state.days.values() if e.file] + ([state.listed.file] if state.listed else [])
            unlisted = sorted(set(named) - set(state.files))
            if unlisted:
                raise ValueError(f"{name} names {unlisted[0]!r}, which is not among its files")
        return self

    def table(self, name: str) -> TableState:
        return self.tables.setdefault(name, TableState())

    def file_paths(self) -> set[tuple[str, str]]:
        return {(name, relative) for name, state in self.tables.items() for relative in state.files}


def encode(manifest: Manifest) -> bytes:
    """The manifest's bytes: keys sorted, no spaces (``nepse-ray sync DIR --status`` is the view for people)."""
    data = manifest.model_dump(mode="json", exclude_defaults=True)
    data["format"] = FORMAT
    return (json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def load(root: Path) -> Manifest | None:
    """The committed manifest of ``root``, or None when there is none."""
    path = root / MANIFEST
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return Manifest.model_validate_json(data)
    except ValidationError as error:
        if _is_first_format(data):
            raise NotADatasetError(
                f"{root} was written by an earlier nepse-ray, before datasets had snapshots; "
                "sync into a new directory (the new layout lists every file in the manifest)"
            ) from None
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise NotADatasetError(
            f"{path} is not a nepse-ray manifest ({where}: {problem['msg']}); sync into an empty directory"
        ) from None


def _is_first_format(data: bytes) -> bool:
    try:
        parsed = json.loads(data)
    except ValueError:
        return False
    return isinstance(parsed, dict) and "format" not in parsed and bool(set(parsed) & set(SPECS))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def damaged_files(root: Path, manifest: Manifest, *, verify: bool = False) -> list[tuple[str, str, str]]:
    """``(table, file, what is wrong)`` for every listed file that is missing or not the size the manifest says
    (and, with ``verify``, whose SHA-256 differs)."""
    found = []
    for table, relative in sorted(manifest.file_paths()):
        entry = manifest.tables[table].files[relative]
        path = resolve(root, table, relative)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            found.append((table, relative, "missing"))
            continue
        if size != entry.bytes:
            found.append((table, relative, f"{size:,} bytes instead of {entry.bytes:,} (torn or changed)"))
        elif verify and sha256_of(path) != entry.sha256:
            found.append((table, relative, "its SHA-256 differs from the manifest's (changed on disk)"))
    return found


class CommitPoint:
    """The one place a dataset changes: a new manifest, written whole and renamed over the last one.

    ``loaded`` is the manifest committed when the point was made, for the writer to change and commit.
    """

    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root
        self.durable = durable
        self.loaded = load(root) or Manifest()
        self._bytes = encode(self.loaded) if (root / MANIFEST).exists() else None
        self._files = self.loaded.file_paths()

    def committed(self) -> Manifest:
        """The manifest last committed (a copy)."""
        return Manifest.model_validate_json(self._bytes) if self._bytes is not None else Manifest()

    def commit(self, manifest: Manifest) -> bool:
        """Make ``manifest`` (whose files are all in place) the dataset's snapshot; False when nothing changed."""
        data = encode(manifest)
        if data == self._bytes:
            return False
        files = manifest.file_paths()
        for table, relative in sorted(self._files - files):
            _retire(resolve(self.root, table, relative))
        path, handle = open_temporary(self.root, MANIFEST)
        try:
            handle.write(data)
        finally:
            sync_and_close(handle, durable=self.durable)
        crash_point("before-manifest-rename")
        publish(path, self.root / MANIFEST, durable=self.durable)
        crash_point("after-manifest-rename")
        self._bytes, self._files = data, files
        return True


def _retire(path: Path) -> None:
    """Start a file's grace period: readers of older snapshots may use it until it ends (see :mod:`.store`)."""
    with contextlib.suppress(FileNotFoundError):
        os.utime(path)
