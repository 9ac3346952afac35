"""Checks of a dataset on disk, shared by the dataset and security tests: what its last committed snapshot holds,
and a read of it that fails on any inconsistency."""

from __future__ import annotations

import hashlib
from pathlib import Path

from nepse_ray import dataset
from nepse_ray.dataset.layout import SPECS
from nepse_ray.dataset.manifest import encode

#: The columns that identify a row of each table: a read finds each combination once.
KEYS = {
    "floorsheet": ("contract_id",),
    "today_price": ("security_id", "business_date"),
    "price_history": ("symbol", "business_date"),
    "index_history": ("index_id", "business_date"),
    "securities": ("id",),
    "companies": ("id",),
    "live_market": ("tick_time", "security_id"),
}


def committed(root: Path) -> dict[str, bytes]:
    """The manifest and every file it lists, by path under ``root``."""
    snap = dataset.snapshot(root)
    listed = {path: Path(path).read_bytes() for table in SPECS for path in snap.files(table)}
    return {"manifest.json": (root / "manifest.json").read_bytes()} | {
        str(Path(path).relative_to(snap.root)): data for path, data in listed.items()
    }


def read_snapshot(root: Path) -> str:
    """Read every table of the last committed snapshot through ``dataset.snapshot``; the manifest's digest.

    Raises AssertionError when a table's rows differ from what its manifest says or a row appears twice.
    """
    snap = dataset.snapshot(root)
    for table, keys in KEYS.items():
        if not snap.files(table):
            continue
        rows = snap.open(table).to_table(columns=list(keys))
        assert rows.num_rows == snap.rows(table), f"{table}: {rows.num_rows} rows, its manifest says {snap.rows(table)}"
        unique = rows.group_by(list(keys)).aggregate([]).num_rows
        assert unique == rows.num_rows, f"{table}: {rows.num_rows - unique} rows appear twice"
    return hashlib.sha256(encode(snap.manifest)).hexdigest()


def temporary_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob(".*.tmp"))
