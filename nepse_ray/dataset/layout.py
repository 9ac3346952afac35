"""The dataset's tables and the only names their files may have.

::

    DIR/manifest.json                                          the commit point: every file of the snapshot
    DIR/floorsheet/business_date=2026-11-30/part-<hash>.parquet   one file per trading day
    DIR/today_price/business_date=2026-11-30/part-<hash>.parquet
    DIR/price_history/part-<hash>.parquet                        rows of many symbols, sorted by symbol and day
    DIR/index_history/part-<hash>.parquet                        rows of every index, sorted by index and day
    DIR/securities/part-<hash>.parquet    DIR/companies/part-<hash>.parquet
    DIR/live_market/business_date=2026-11-30/part-<hash>.parquet  ticks of the live market, many files a day

A table is one of four kinds: a *list* (the site's list as of a day, replaced when the day moves on), *days*
(one file per trading day, partitioned by ``business_date``), *history* (daily rows of many series, a symbol
or an index each, in parts that compaction merges) or *ticks* (what ``nepse-ray record`` appends while the market
is open, partitioned by ``business_date``, a file per commit, which compaction merges). A sync keeps the first
three (:data:`TABLES`); a recording the last (:data:`RECORDED`). A file's name is the start of the SHA-256 of its
bytes, so a file never changes once written: a new content is a new file, and the same rows written again give the
same name. Nothing the site sends ever becomes part of a path: symbols and index ids live inside the files.

>>> relative_path("floorsheet", "0123456789abcdef" * 4, dt.date(2026, 11, 30))
'business_date=2026-11-30/part-0123456789abcdef.parquet'
>>> is_valid_symbol("NICAD85/86"), is_valid_symbol("../x"), is_valid_symbol("..")
(True, False, False)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Literal

import pyarrow as pa

from ..pulls import market
from ..pulls.result import SortKeys
from .errors import DatasetCorruptError

Kind = Literal["list", "days", "history", "ticks"]


@dataclasses.dataclass(frozen=True)
class TableSpec:
    """How one table is kept: its kind, the order of its rows, and for history tables the series column."""

    name: str
    kind: Kind
    sort: SortKeys
    series: str | None = None

    @property
    def partitioned(self) -> bool:
        """Whether its files live in ``business_date=...`` folders."""
        return self.kind in ("days", "ticks")


SPECS: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec("securities", "list", market.LIST_ORDER),
        TableSpec("companies", "list", market.LIST_ORDER),
        TableSpec("floorsheet", "days", market.FLOORSHEET_ORDER),
        TableSpec("today_price", "days", market.TODAY_PRICE_ORDER),
        TableSpec("price_history", "history", (("symbol", "ascending"), ("business_date", "ascending")), "symbol"),
        TableSpec("index_history", "history", market.INDEX_HISTORY_ORDER, "index_id"),
        TableSpec("live_market", "ticks", (("tick_time", "ascending"), ("security_id", "ascending"))),
    )
}
#: The tables a sync keeps.
TABLES = tuple(name for name, spec in SPECS.items() if spec.kind != "ticks")
#: The tables ``nepse-ray record`` appends to.
RECORDED = tuple(name for name, spec in SPECS.items() if spec.kind == "ticks")
MANIFEST = "manifest.json"
LOCK = ".nepse-ray-lock"
#: The partition column of the *days* tables, and its type.
DAY_PARTITION = ("business_date", pa.date32())

_DIGEST = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"part-[0-9a-f]{16}\.parquet")
_DAY_FOLDER = re.compile(r"business_date=(\d{4}-\d{2}-\d{2})")
#: NEPSE symbols: upper-case letters and digits, and a few marks (``/`` in debentures such as ``NICAD85/86``).
_SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9/&.\-]{0,29}")


def is_valid_symbol(symbol: object) -> bool:
    return isinstance(symbol, str) and _SYMBOL.fullmatch(symbol) is not None


def part_name(digest: str) -> str:
    """The file name of the bytes whose SHA-256 is ``digest``."""
    if not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a SHA-256 digest: {digest!r}")
    return f"part-{digest[:16]}.parquet"


def relative_path(table: str, digest: str, day: dt.date | None = None) -> str:
    """Where a file of ``table`` with that content goes, relative to the table's folder."""
    if SPECS[table].partitioned:
        if day is None:
            raise ValueError(f"a {table} file belongs to a day")
        return f"{DAY_PARTITION[0]}={day.isoformat()}/{part_name(digest)}"
    return part_name(digest)


def check_relative_path(table: str, relative: str) -> str:
    """``relative`` if a file of ``table`` may have that name; :class:`DatasetCorruptError` otherwise."""
    parts = relative.split("/")
    valid = bool(_PART.fullmatch(parts[-1]))
    if SPECS[table].partitioned:
        valid = valid and len(parts) == 2 and _day_folder(parts[0]) is not None
    else:
        valid = valid and len(parts) == 1
    if not valid:
        raise DatasetCorruptError(f"the manifest lists {relative!r} in {table}, a name nepse-ray never writes")
    return relative


def resolve(root: Path, table: str, relative: str) -> Path:
    """The path of a file of ``table`` under ``root`` (a resolved path), checked to stay inside it: no part of the
    path below ``root`` may be a symlink (a cheap check, one ``lstat`` per part, instead of resolving each path)."""
    path = root / table
    for part in ("", *check_relative_path(table, relative).split("/")):
        path = path / part if part else path
        if path.is_symlink():
            raise DatasetCorruptError(f"{path} is a symlink, which may lead outside {root}; refusing to use it")
    return path


def is_own_file(table: str, relative: str) -> bool:
    """True for the names of data files nepse-ray writes in ``table`` (listed or not)."""
    try:
        check_relative_path(table, relative)
    except DatasetCorruptError:
        return False
    return True


def is_own_folder(table: str, name: str) -> bool:
    """True for the partition folders nepse-ray makes in ``table``."""
    return SPECS[table].partitioned and _day_folder(name) is not None


def _day_folder(name: str) -> dt.date | None:
    match = _DAY_FOLDER.fullmatch(name)
    if match is None:
        return None
    try:
        return dt.date.fromisoformat(match.group(1))
    except ValueError:
        return None
