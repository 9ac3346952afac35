"""A writer's run on a dataset: the lock held, leftovers of dead writers cleared, damaged files repaired, parts
written and committed, and unlisted files removed after their grace period. :func:`writing` is how
:mod:`.sync` and :mod:`.compact` change a dataset, and the only way.

>>> import tempfile, pyarrow as pa
>>> root = Path(tempfile.mkdtemp())
>>> with writing(root) as writer:
...     name = writer.part("securities", pa.table({"id": [1], "symbol": ["NABIL"]}))
...     writer.commit()
True
>>> sorted(path.name for path in root.iterdir() if not path.name.startswith("."))
['manifest.json', 'securities']
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from . import store
from .errors import NotADatasetError
from .layout import MANIFEST
from .lock import WriterLock
from .manifest import CommitPoint, Manifest, TableState, damaged_files


class Writer:
    """The working manifest of a run (``manifest``) and the parts written for it, committed by :meth:`commit`."""

    def __init__(self, root: Path, *, durable: bool) -> None:
        self.root = root
        self.durable = durable
        self.point = CommitPoint(root, durable=durable)
        self.manifest: Manifest = self.point.loaded
        self.written: list[Path] = []
        self.notes: list[str] = []

    def state(self, table: str) -> TableState:
        return self.manifest.table(table)

    def part(
        self,
        table: str,
        rows: pa.Table,
        *,
        day: dt.date | None = None,
        covers: dict[str, list[tuple[dt.date, dt.date]]] | None = None,
    ) -> str:
        """Write ``rows`` as a file of ``table`` and list it in the working manifest; its name."""
        part = store.write_part(self.root, table, rows, day=day, covers=covers, durable=self.durable)
        self.state(table).add_file(part.relative, part.entry)
        if part.written:
            self.written.append(self.root / table / part.relative)
        return part.relative

    def commit(self) -> bool:
        """Make the working manifest the dataset's snapshot (nothing happens when it did not change)."""
        return self.point.commit(self.manifest)

    def repair(self, *, verify: bool) -> list[str]:
        """Drop every listed file that is missing or torn (``verify``: also changed) and commit; what was wrong."""
        found = damaged_files(self.root, self.manifest, verify=verify)
        for table, relative, _ in found:
            self.state(table).drop_file(relative)
        if found:
            self.commit()
        return [f"{table}/{relative}: {problem}; its rows are fetched again" for table, relative, problem in found]


@contextlib.contextmanager
def writing(
    directory: Path | str, *, wait: float = 0.0, durable: bool = True, grace: float = store.GRACE_SECONDS
) -> Iterator[Writer]:
    """Hold ``directory``'s lock for a run: a :class:`Writer` on it, and the unlisted files older than ``grace``
    seconds removed at the end."""
    root = adopt(directory)
    with WriterLock(root, wait=wait) as lock:
        store.remove_temporary(root)
        writer = Writer(root, durable=durable)
        if lock.taken_over:
            writer.notes.append(lock.taken_over)
        yield writer
        removed = store.vacuum(root, writer.point.committed(), grace=grace)
        if removed:
            writer.notes.append(f"removed {len(removed)} file(s) no snapshot has listed for {grace:g} s")


def adopt(directory: Path | str) -> Path:
    """``directory`` as a dataset's root (made when missing); :class:`NotADatasetError` when it holds other files and
    no manifest: nepse-ray writes into, and deletes from, only folders it made."""
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NotADatasetError(f"cannot use {root} as a dataset: {error.strerror or error}") from None
    root = root.resolve()
    if not (root / MANIFEST).exists() and not store.holds_only_own_names(root):
        raise NotADatasetError(
            f"{root} already holds files and no nepse-ray manifest; sync into an empty or new directory "
            "(nepse-ray writes into, and deletes from, only datasets it made)"
        )
    return root
