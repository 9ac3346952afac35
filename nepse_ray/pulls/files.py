"""Files that appear whole or not at all: a fresh temporary file beside the final name, ``fsync``, rename.

A temporary file is created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` under a random name that starts with ``.`` (so
directory scans by pyarrow, DuckDB's globs and ``ls`` pass it by), in the folder of the final name (so the rename
stays on one file system and is atomic). ``O_EXCL`` refuses a name that exists, a planted symlink included, and the
random part makes the name unguessable. :func:`publish` then flushes the file's bytes to disk, renames it over the
final name (a symlink there is replaced, never followed) and flushes the folder, so after a power loss the final
name holds either the old file or the whole new one.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> path, handle = open_temporary(folder, "day.csv")
>>> _ = handle.write(b"a,b\\n")
>>> sync_and_close(handle)
>>> publish(path, folder / "day.csv").read_bytes()
b'a,b\\n'
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import BinaryIO

TEMPORARY_SUFFIX = ".tmp"
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def temporary_pattern(final: str) -> re.Pattern[str]:
    """What the temporary names made for final names matching the regular expression ``final`` look like."""
    return re.compile(rf"\.(?:{final})\.[0-9a-f]{{16}}{re.escape(TEMPORARY_SUFFIX)}")


def open_temporary(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    """A new file ``folder/.NAME.<16 hex digits>.tmp``: its path, and the file open for writing."""
    while True:
        path = folder / f".{name}.{secrets.token_hex(8)}{TEMPORARY_SUFFIX}"
        try:
            descriptor = os.open(path, _FLAGS, 0o666)  # the umask applies, as for any new file
        except FileExistsError:
            continue
        return path, open(descriptor, "wb", closefd=True)


def sync_and_close(handle: BinaryIO, *, durable: bool = True) -> None:
    """Flush ``handle`` to disk (unless ``durable`` is False) and close it."""
    try:
        handle.flush()
        if durable:
            os.fsync(handle.fileno())
    finally:
        handle.close()


def publish(temporary: Path, final: Path, *, durable: bool = True) -> Path:
    """Rename the closed, flushed ``temporary`` to ``final`` and flush the folder (unless ``durable`` is False)."""
    os.replace(temporary, final)
    if durable:
        sync_folder(final.parent)
    return final


def sync_folder(folder: Path) -> None:
    """``fsync`` a folder, so the names just created or renamed in it survive a power loss."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
