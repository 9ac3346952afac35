"""The dataset's files on disk: parts written whole under the name of their content, and the removal of files no
snapshot needs any more, limited to names nepse-ray writes.

A part is serialised in memory (rows in one canonical order, so the same rows give the same bytes), named after
its SHA-256 (:mod:`.layout`), written to a temporary file in its folder, flushed, renamed and the folder flushed
(:mod:`nepse_ray.pulls.files`). It joins the dataset only when a manifest that lists it is committed.

A file leaves the dataset when a commit stops listing it (a list replaced, parts compacted, a repair); the commit
touches it, and :func:`vacuum` deletes it once it has been unlisted for ``grace`` seconds (an hour by default),
long enough for a reader that opened an older snapshot to finish. ``nepse-ray sync --vacuum`` deletes at once.
Files left by a writer that died (written, never committed) are unlisted too and go the same way; its temporary
files go at the next writer's start, since the lock says nobody is writing them (:func:`remove_temporary`).
Nothing else is ever deleted: only names nepse-ray writes, in the folders it makes, and never through a symlink.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from ..pulls.files import open_temporary, publish, sync_and_close, sync_folder, temporary_pattern
from .crash import crash_point
from .layout import LOCK, MANIFEST, SPECS, is_own_file, is_own_folder, relative_path, resolve
from .manifest import FileEntry, Manifest, sha256_of

#: Seconds a file stays on disk after the last snapshot that listed it was replaced.
GRACE_SECONDS = 3600.0
#: The temporary names of parts and of the manifest.
_TEMPORARY = temporary_pattern(r"part-[0-9a-f]{16}\.parquet|manifest\.json")


def canonical(table: pa.Table) -> pa.Table:
    """``table`` in one chunk with its dictionaries rebuilt in row order, so the same rows give the same bytes.

    A pull's dictionaries follow the order its pages arrived in, which differs between runs.
    """
    table = table.combine_chunks()
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            plain = table.column(index).cast(field.type.value_type)
            table = table.set_column(index, field, plain.dictionary_encode())
    return table


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(canonical(table), sink)
    return bytes(sink.getvalue())


class Part(NamedTuple):
    """A part in place: its name in the table's folder, its manifest entry, and whether this call wrote it."""

    relative: str
    entry: FileEntry
    written: bool


def write_part(
    root: Path,
    table: str,
    rows: pa.Table,
    *,
    day: dt.date | None = None,
    covers: dict[str, list[tuple[dt.date, dt.date]]] | None = None,
    durable: bool = True,
) -> Part:
    """Write ``rows`` as a part of ``table`` (a day's file for *days* tables), unless the same bytes are there."""
    data = parquet_bytes(rows)
    digest = hashlib.sha256(data).hexdigest()
    relative = relative_path(table, digest, day)
    final = resolve(root, table, relative)
    entry = FileEntry(rows=rows.num_rows, bytes=len(data), sha256=digest, covers=covers or {})
    if _holds(final, len(data), digest):  # written before (a list that did not change, a fetch repeated)
        return Part(relative, entry, written=False)
    created = _make_folders(final.parent)  # resolve() checked that no part of it is a symlink
    path, handle = open_temporary(final.parent, final.name)
    try:
        handle.write(data)
    except BaseException:
        handle.close()
        path.unlink(missing_ok=True)
        raise
    sync_and_close(handle, durable=durable)
    crash_point("before-data-rename")
    publish(path, final, durable=durable)
    crash_point("after-data-rename")
    if durable:
        for folder in created:  # a new folder's own name lives in its parent
            sync_folder(folder.parent)
    return Part(relative, entry, written=True)


def _holds(path: Path, size: int, digest: str) -> bool:
    """True when ``path`` is already a file of ``size`` bytes whose SHA-256 is ``digest``."""
    try:
        return path.stat().st_size == size and sha256_of(path) == digest
    except FileNotFoundError:
        return False


def _make_folders(folder: Path) -> list[Path]:
    """Make ``folder`` and its missing parents; the folders made, deepest first."""
    created = []
    while not folder.is_dir():
        created.append(folder)
        folder = folder.parent
    for made in reversed(created):
        made.mkdir(exist_ok=True)
    return created


def remove_temporary(root: Path) -> list[Path]:
    """Delete the temporary files a writer that died left (call it holding the lock); the paths deleted."""
    removed = []
    for folder in [str(root), *_own_folders(root)]:
        for entry in _entries(folder):
            if entry.is_file(follow_symlinks=False) and _is_temporary(entry.name):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


def vacuum(
    root: Path, manifest: Manifest, *, grace: float = GRACE_SECONDS, clock: Callable[[], float] = time.time
) -> list[Path]:
    """Delete the data files no committed snapshot lists that have been unlisted for ``grace`` seconds, then the
    day folders left empty; the paths deleted."""
    listed = manifest.file_paths()
    cutoff = clock() - grace
    removed = []
    for table in SPECS:
        for relative, entry in _own_files(root, table):
            if (table, relative) in listed or entry.stat(follow_symlinks=False).st_mtime > cutoff:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        if SPECS[table].partitioned:
            for folder in _entries(root / table):
                if is_own_folder(table, folder.name) and folder.is_dir(follow_symlinks=False):
                    try:
                        os.rmdir(folder.path)
                    except OSError:  # not empty: a listed file or one still in its grace period
                        continue
    return removed


def holds_only_own_names(root: Path) -> bool:
    """True when every name in ``root`` is one nepse-ray makes in a dataset (so a sync may adopt it)."""
    own = {MANIFEST, LOCK, *SPECS}
    return all(entry.name in own or _is_temporary(entry.name) for entry in _entries(root))


def _is_temporary(name: str) -> bool:
    return _TEMPORARY.fullmatch(name) is not None


def _own_folders(root: Path) -> Iterator[str]:
    """Every folder of ``root`` nepse-ray makes (tables and day folders), never through a symlink."""
    for table in SPECS:
        folder = root / table
        if not folder.is_dir() or folder.is_symlink():
            continue
        yield str(folder)
        if SPECS[table].partitioned:
            for entry in _entries(folder):
                if is_own_folder(table, entry.name) and entry.is_dir(follow_symlinks=False):
                    yield entry.path


def _own_files(root: Path, table: str) -> Iterator[tuple[str, os.DirEntry[str]]]:
    folder = root / table
    if not folder.is_dir() or folder.is_symlink():
        return
    for entry in _entries(folder):
        if SPECS[table].partitioned:
            if is_own_folder(table, entry.name) and entry.is_dir(follow_symlinks=False):
                for inner in _entries(Path(entry.path)):
                    relative = f"{entry.name}/{inner.name}"
                    if inner.is_file(follow_symlinks=False) and is_own_file(table, relative):
                        yield relative, inner
        elif entry.is_file(follow_symlinks=False) and is_own_file(table, entry.name):
            yield entry.name, entry


def _entries(folder: Path | str) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as entries:
            return list(entries)
    except (FileNotFoundError, NotADirectoryError):
        return []
