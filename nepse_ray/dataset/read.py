"""Reading a dataset safely while it is written: a :class:`Snapshot` is the last committed manifest and exactly the
files it lists, never a file in progress, never a part and the compacted file that replaced it.

The manifest is read once; the files it lists never change and stay on disk for an hour after a later commit
stops listing them (:mod:`.store`), so a snapshot keeps reading the same rows while a writer commits the next one.
Other readers (DuckDB, Polars, ``ray.data``) should read :meth:`Snapshot.files`, not a glob of the folders: a glob
also finds files a killed writer left and files a compaction replaced.

>>> snap = snapshot("nepse-data")                                        # doctest: +SKIP
>>> snap.open("floorsheet").to_table().num_rows == snap.rows("floorsheet")  # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

from ..nepse.errors import NepseInputError
from .layout import DAY_PARTITION, SPECS, resolve
from .manifest import Manifest, load


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A dataset as one committed manifest left it."""

    root: Path
    manifest: Manifest

    def files(self, table: str) -> list[str]:
        """The absolute paths of ``table``'s files in this snapshot, sorted."""
        state = self.manifest.tables.get(_known(table))
        names = sorted(state.files) if state is not None else []
        return [str(resolve(self.root, table, name)) for name in names]

    def rows(self, table: str) -> int:
        state = self.manifest.tables.get(_known(table))
        return state.rows if state is not None else 0

    def open(self, table: str = "floorsheet") -> ds.Dataset:
        """``table`` as a ``pyarrow.dataset.Dataset`` over this snapshot's files (partition columns included)."""
        paths = self.files(table)
        if not paths:
            how = "record" if SPECS[table].kind == "ticks" else "sync"
            command = (
                f"nepse-ray record {self.root}" if how == "record" else f"nepse-ray sync {self.root} --tables {table}"
            )
            raise NepseInputError(f"{self.root} holds no {table} rows yet; run `nepse-ray {command}` first")
        if not SPECS[table].partitioned:
            return ds.dataset(paths, format="parquet")
        partitioning = ds.partitioning(pa.schema([DAY_PARTITION]), flavor="hive")
        return ds.dataset(paths, format="parquet", partitioning=partitioning, partition_base_dir=str(self.root / table))


def snapshot(directory: Path | str) -> Snapshot:
    """The last committed snapshot of the dataset in ``directory``."""
    root = Path(directory).resolve()
    manifest = load(root)
    if manifest is None:
        raise NepseInputError(f"{directory} holds no nepse-ray dataset (no manifest.json); run `nepse-ray sync` first")
    return Snapshot(root, manifest)


def open(directory: Path | str, table: str = "floorsheet") -> ds.Dataset:
    """``table`` of the dataset in ``directory`` as a ``pyarrow.dataset.Dataset``: the last committed snapshot."""
    _known(table)
    return snapshot(directory).open(table)


def files(directory: Path | str, table: str = "floorsheet") -> list[str]:
    """The files of ``table`` in the last committed snapshot (for DuckDB, Polars, ``ray.data``)."""
    return snapshot(directory).files(table)


def _known(table: str) -> str:
    if table not in SPECS:
        raise NepseInputError(f"unknown table {table!r}; choose from {', '.join(SPECS)}")
    return table
