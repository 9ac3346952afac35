"""A local NEPSE dataset kept in sync: hive-partitioned Parquet files and a manifest of what is complete.

::

    DIR/manifest.json
    DIR/floorsheet/business_date=2026-11-30/part-0.parquet
    DIR/today_price/business_date=2026-11-30/part-0.parquet
    DIR/price_history/symbol=NABIL/part-2026-10-01_2026-11-30.parquet
    DIR/index_history/index_id=58/part-0.parquet
    DIR/securities/part-0.parquet
    DIR/companies/part-0.parquet

:func:`sync` fetches only what the manifest lacks: trading days (Sunday to Thursday) since ``since`` that are not
recorded, price history outside the range each symbol already covers, index history and the lists when the
site's day moved on. A day that comes back empty is recorded *unavailable*, never as a complete day without
trades. Today is skipped while the market is open (it is not final yet).

Every file is written under a temporary name and renamed when complete, and the manifest (written the same way)
records a partition only after its file is in place, so a sync killed at any moment (SIGKILL included) leaves no
partial file that looks complete; the next run removes leftovers and finishes the job, ending byte for byte where
an uninterrupted run ends (rows are sorted before they are written, and the manifest holds no clock). A second
run right after a complete one fetches no data and changes no file.

>>> report = sync(api, "nepse-data", since="2026-11-01")           # doctest: +SKIP
>>> open("nepse-data", "floorsheet").to_table().num_rows            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..nepse.errors import NepseInputError
from ..pulls import market
from ..pulls.engine import Progress, Series
from ..pulls.result import PullResult, SortKeys
from ..pulls.sinks import PARTIAL_SUFFIX, write_table
from .crash import crash_point
from .site import ListName, PoolSite, Site

if TYPE_CHECKING:
    from ..pool.api import NepseWorkerAPI

TABLES = ("securities", "companies", "floorsheet", "today_price", "price_history", "index_history")
#: How a table is partitioned: the column that names its folders, and that column's type.
PARTITIONS: dict[str, tuple[str, pa.DataType] | None] = {
    "floorsheet": ("business_date", pa.date32()),
    "today_price": ("business_date", pa.date32()),
    "price_history": ("symbol", pa.string()),
    "index_history": ("index_id", pa.int64()),
    "securities": None,
    "companies": None,
}
MANIFEST = "manifest.json"
DEFAULT_DAYS = 30
#: Symbols whose price history is pulled at once (their pages in parallel) before their files are written.
HISTORY_CHUNK = 50
#: Days pulled together: a floorsheet day is hundreds of pages on its own; today-price days are one or two.
FLOORSHEET_DAYS = 1
TODAY_PRICE_DAYS = 10
TRADING_WEEKDAYS = frozenset({6, 0, 1, 2, 3})  # Sunday .. Thursday


@dataclasses.dataclass
class SyncReport:
    """What one sync did: pulls made, files written, days found unavailable."""

    pulls: int = 0
    rows: int = 0
    written: list[Path] = dataclasses.field(default_factory=list)
    unavailable: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        if not self.pulls:
            return "up to date: nothing fetched, no file changed"
        gaps = f", {len(self.unavailable)} day(s) unavailable" if self.unavailable else ""
        return f"{self.pulls} pull(s), {self.rows:,} rows, {len(self.written)} file(s) written{gaps}"


class Manifest:
    """``manifest.json``: per table, what is complete. Saved atomically, and only when it changed."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / MANIFEST
        try:
            self.data: dict[str, dict[str, Any]] = json.loads(self.path.read_text())
        except FileNotFoundError:
            self.data = {}
        except ValueError:
            raise NepseInputError(f"{self.path} is not a nepse-ray manifest; sync into an empty directory") from None
        for table in TABLES:
            self.data.setdefault(table, {})

    def entry(self, table: str, key: str) -> dict[str, Any] | None:
        return self.data[table].get(key)

    def record(self, table: str, key: str, entry: dict[str, Any]) -> None:
        self.data[table][key] = entry
        text = json.dumps(self.data, indent=1, sort_keys=True) + "\n"
        if self.path.exists() and self.path.read_text() == text:
            return
        partial = self.path.with_name(MANIFEST + PARTIAL_SUFFIX)
        partial.write_text(text)
        crash_point("before-manifest-rename")
        os.replace(partial, self.path)
        crash_point("after-manifest-rename")


def sync(
    api: NepseWorkerAPI,
    directory: Path | str,
    *,
    since: dt.date | str | None = None,
    tables: Iterable[str] = TABLES,
    on_step: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SyncReport:
    """Bring ``directory`` up to date with the site from ``since`` (default: 30 days back) to its current day."""
    return run_sync(PoolSite(api, on_progress), directory, since=since, tables=tables, on_step=on_step)


def run_sync(
    site: Site,
    directory: Path | str,
    *,
    since: dt.date | str | None = None,
    tables: Iterable[str] = TABLES,
    on_step: Callable[[str], None] | None = None,
) -> SyncReport:
    """:func:`sync` with the data from ``site``."""
    wanted = tuple(tables)
    unknown = sorted(set(wanted) - set(TABLES))
    if unknown:
        raise NepseInputError(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    root = Path(directory)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NepseInputError(f"cannot write {root}: {error.strerror or error}") from None
    for leftover in root.rglob("*" + PARTIAL_SUFFIX):  # files a killed sync was writing
        leftover.unlink()
    status = site.market_open()
    today: dt.date = status.as_of.date()
    final = today - dt.timedelta(days=1) if status.is_open.upper() == "OPEN" else today
    start = _day(since) if since is not None else today - dt.timedelta(days=DEFAULT_DAYS)
    run = _Sync(site, root, Manifest(root), today, final, start, on_step or (lambda _: None))
    for table in TABLES:
        if table in wanted:
            getattr(run, table)()
    return run.report


def open(directory: Path | str, table: str = "floorsheet") -> ds.Dataset:
    """``table`` of the dataset in ``directory`` as a ``pyarrow.dataset.Dataset`` (partition columns included)."""
    if table not in PARTITIONS:
        raise NepseInputError(f"unknown table {table!r}; choose from {', '.join(TABLES)}")
    path = Path(directory) / table
    if not path.is_dir():
        raise NepseInputError(f"{path} does not exist; run `nepse-ray sync {directory} --tables {table}` first")
    partition = PARTITIONS[table]
    partitioning = ds.partitioning(pa.schema([partition]), flavor="hive") if partition else None
    return ds.dataset(path, format="parquet", partitioning=partitioning, exclude_invalid_files=False)


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Sunday..Thursday days from ``first`` to ``last``, oldest first."""
    count = (last - first).days + 1
    days = (first + dt.timedelta(days=n) for n in range(max(count, 0)))
    return [day for day in days if day.weekday() in TRADING_WEEKDAYS]


@dataclasses.dataclass
class _Sync:
    site: Site
    root: Path
    manifest: Manifest
    today: dt.date
    final: dt.date  # the last day whose data is final
    since: dt.date
    step: Callable[[str], None]
    report: SyncReport = dataclasses.field(default_factory=SyncReport)

    def securities(self) -> None:
        self._snapshot("securities")

    def companies(self) -> None:
        self._snapshot("companies")

    def _snapshot(self, table: ListName) -> None:
        if (self.manifest.entry(table, "list") or {}).get("as_of") == self.today.isoformat():
            return
        self.step(f"{table}: the site's list as of {self.today}")
        result = self._pulled(self.site.listed(table))
        self._write(result.to_arrow(), self.root / table / "part-0.parquet")
        self.manifest.record(table, "list", {"as_of": self.today.isoformat(), "rows": result.rows})

    def floorsheet(self) -> None:
        self._days("floorsheet", market.floorsheet_series, market.FLOORSHEET_ORDER, per_pull=FLOORSHEET_DAYS)

    def today_price(self) -> None:
        self._days("today_price", market.today_price_series, market.TODAY_PRICE_ORDER, per_pull=TODAY_PRICE_DAYS)

    def _days(self, table: str, listing: Callable[[dt.date], Series], sort: SortKeys, per_pull: int) -> None:
        """Every missing day, ``per_pull`` days pulled together; each written (or recorded unavailable) alone."""
        days = [d for d in trading_days(self.since, self.final) if self.manifest.entry(table, d.isoformat()) is None]
        for offset in range(0, len(days), per_pull):
            chunk = days[offset : offset + per_pull]
            self.step(f"{table} {chunk[0]}" + (f" .. {chunk[-1]}" if len(chunk) > 1 else ""))
            result = self._pulled(self.site.pull([listing(day) for day in chunk], sort))
            rows = result.to_arrow()
            for day in chunk:
                if str(day) in result.unavailable:
                    self.report.unavailable.append(f"{table} {day}")
                    self.manifest.record(table, day.isoformat(), {"status": "unavailable"})
                    continue
                own = rows.filter(pc.equal(rows["business_date"], day)).drop_columns(["business_date"])
                self._write(own, self.root / table / f"business_date={day.isoformat()}" / "part-0.parquet")
                self.manifest.record(table, day.isoformat(), {"status": "complete", "rows": own.num_rows})

    def price_history(self) -> None:
        ids = self._security_ids()
        wanted: list[tuple[str, dt.date, dt.date]] = []
        for symbol in sorted(ids):
            covered = self.manifest.entry("price_history", symbol)
            if covered is None:
                wanted.append((symbol, self.since, self.final))
                continue
            first, last = _day(covered["start"]), _day(covered["end"])
            if self.since < first:
                wanted.append((symbol, self.since, first - dt.timedelta(days=1)))
            if last < self.final:
                wanted.append((symbol, last + dt.timedelta(days=1), self.final))
        for offset in range(0, len(wanted), HISTORY_CHUNK):
            chunk = wanted[offset : offset + HISTORY_CHUNK]
            self.step(f"price_history: ranges {offset + 1}-{offset + len(chunk)} of {len(wanted)}")
            series = [market.history_series(symbol, ids[symbol], first, last) for symbol, first, last in chunk]
            result = self._pulled(self.site.pull(series, market.PRICE_HISTORY_ORDER))
            table = result.to_arrow()
            for symbol, first, last in chunk:
                rows = table.filter(
                    pc.and_(pc.equal(table["symbol"], symbol), _between(table["business_date"], first, last))
                )
                self._history_range(symbol, first, last, rows.drop_columns(["symbol"]))

    def _history_range(self, symbol: str, first: dt.date, last: dt.date, rows: pa.Table) -> None:
        if rows.num_rows:
            self._write(rows, self.root / "price_history" / f"symbol={symbol}" / f"part-{first}_{last}.parquet")
        covered = self.manifest.entry("price_history", symbol)
        start = min(first, _day(covered["start"])) if covered else first
        end = max(last, _day(covered["end"])) if covered else last
        total = rows.num_rows + (covered["rows"] if covered else 0)
        entry = {"start": start.isoformat(), "end": end.isoformat(), "rows": total}
        self.manifest.record("price_history", symbol, entry)

    def index_history(self) -> None:
        through = self.final.isoformat()
        stale = [
            i
            for i in market.INDEX_IDS
            if (self.manifest.entry("index_history", str(i)) or {}).get("through") != through
        ]
        if not stale:
            return
        self.step(f"index_history: {len(stale)} indices")
        series = [market.index_series(index_id) for index_id in stale]
        table = self._pulled(self.site.pull(series, market.INDEX_HISTORY_ORDER)).to_arrow()
        table = table.filter(_between(table["business_date"], self.since, self.final))
        for index_id in stale:
            rows = table.filter(pc.equal(table["index_id"], index_id)).drop_columns(["index_id"])
            self._write(rows, self.root / "index_history" / f"index_id={index_id}" / "part-0.parquet")
            self.manifest.record("index_history", str(index_id), {"through": self.final.isoformat()})

    def _security_ids(self) -> dict[str, int]:
        """``symbol -> security id`` from the stored security list (synced first if missing)."""
        stored = self.root / "securities" / "part-0.parquet"
        if not stored.exists():
            self.securities()
        table = pq.read_table(stored, columns=["symbol", "id"])
        return dict(zip(table.column("symbol").to_pylist(), table.column("id").to_pylist(), strict=True))

    def _pulled(self, result: PullResult) -> PullResult:
        self.report.pulls += 1
        self.report.rows += result.rows
        return result

    def _write(self, table: pa.Table, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.report.written.append(write_table(canonical(table), path))
        crash_point("after-data-rename")


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


def _between(dates: pa.ChunkedArray, first: dt.date, last: dt.date) -> pa.ChunkedArray:
    return pc.and_(pc.greater_equal(dates, first), pc.less_equal(dates, last))


def _day(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise NepseInputError(f"{value!r} is not a date; use YYYY-MM-DD") from None
