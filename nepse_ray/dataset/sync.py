"""``sync``: bring a local dataset up to date with the site, fetching only what its manifest lacks.

Trading days (Sunday to Thursday) since ``since`` that are not recorded, each series' history outside what it
covers or knows unavailable, and the lists when the site's day moved on (:mod:`.plan`). Every pull's rows become
parts (:mod:`.store`) committed with the manifest (:mod:`.manifest`) chunk by chunk, under the writer's lock
(:mod:`.writer`), so a sync killed at any instant (SIGKILL included) leaves the last committed snapshot, and the
next run fetches the rest and ends byte for byte where an uninterrupted run ends. A run right after a complete one
fetches nothing and changes no file.

A listing that still fails after the pull's retry rounds is reported and left for the next run; what arrived
beside it is kept, and the sync raises :class:`~nepse_ray.dataset.errors.IncompleteSyncError` once everything
else is committed.

>>> report = sync(api, "nepse-data", since="2026-11-01")           # doctest: +SKIP
>>> dataset.open("nepse-data", "floorsheet").to_table().num_rows    # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..nepse.errors import NepseInputError
from ..nepse.payload import NEPAL_TZ
from ..pulls import market
from ..pulls.engine import Progress, Series
from ..pulls.errors import IncompletePullError
from ..pulls.result import PullResult
from . import plan
from .compact import compact_table
from .errors import IncompleteSyncError
from .layout import SPECS, TABLES, TableSpec, is_valid_symbol, resolve
from .manifest import DayEntry, Gap, ListEntry
from .ranges import Range
from .report import SyncReport
from .site import ListName, PoolSite, Site
from .writer import Writer, writing

if TYPE_CHECKING:
    from ..pool.api import NepseWorkerAPI

DEFAULT_DAYS = 30
#: Series whose history is pulled at once (their pages in parallel) and committed as one part.
HISTORY_CHUNK = 50
#: Days pulled together: a floorsheet day is hundreds of pages on its own; today-price days are one or two.
DAYS_PER_PULL = {"floorsheet": 1, "today_price": 10}
DAY_LISTINGS: dict[str, Callable[[dt.date], Series]] = {
    "floorsheet": market.floorsheet_series,
    "today_price": market.today_price_series,
}
#: The column that names the listing each row came from (dropped before the rows are written).
_LISTING = "_listing"


def sync(
    api: NepseWorkerAPI,
    directory: Path | str,
    *,
    since: dt.date | str | None = None,
    tables: Iterable[str] = TABLES,
    retry_unavailable: bool = False,
    verify: bool = False,
    wait: float = 0.0,
    on_step: Callable[[str], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> SyncReport:
    """Bring ``directory`` up to date with the site from ``since`` (default: 30 days back) to its current day.

    ``retry_unavailable`` asks again for days and history the site did not give before; ``verify`` checks every
    file's SHA-256 (sizes are always checked); ``wait`` is how long to wait for another writer's lock.
    """
    return run_sync(
        PoolSite(api, on_progress),
        directory,
        since=since,
        tables=tables,
        retry_unavailable=retry_unavailable,
        verify=verify,
        wait=wait,
        on_step=on_step,
    )


def run_sync(
    site: Site,
    directory: Path | str,
    *,
    since: dt.date | str | None = None,
    tables: Iterable[str] = TABLES,
    retry_unavailable: bool = False,
    verify: bool = False,
    wait: float = 0.0,
    durable: bool = True,
    compact: bool = True,
    on_step: Callable[[str], None] | None = None,
    local_today: Callable[[], dt.date] | None = None,
) -> SyncReport:
    """:func:`sync` with the data from ``site``. For the benchmark: ``durable=False`` skips every ``fsync``,
    ``compact=False`` leaves every part unmerged; ``local_today`` is this machine's date (Nepal time)."""
    wanted = tuple(tables)
    unknown = sorted(set(wanted) - set(TABLES))
    if unknown:
        raise NepseInputError(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    first = _day(since) if since is not None else None
    report = SyncReport()
    with writing(directory, wait=wait, durable=durable) as writer:
        report.repaired = writer.repair(verify=verify)
        status = site.market_open()
        day = plan.SiteDay.of(status.as_of, status.is_open, (local_today or _nepal_today)())
        start = first if first is not None else day.today - dt.timedelta(days=DEFAULT_DAYS)
        plan.check_span(start, day.final)
        run = _Sync(site, writer, day, start, retry_unavailable, on_step or (lambda _: None), report)
        for table in TABLES:
            if table in wanted:
                run.table(SPECS[table])
        for table in TABLES:
            if compact and table in wanted and compact_table(writer, table, force=False):
                report.notes.append(f"{table}: small parts compacted into one")
        writer.commit()
        report.written = writer.written
    report.notes.extend(writer.notes)
    if report.failed:
        raise IncompleteSyncError(str(writer.root), report.failed, report)
    return report


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Sunday..Thursday days from ``first`` to ``last``, oldest first."""
    return plan.trading_days(first, last)


@dataclasses.dataclass
class _Sync:
    site: Site
    writer: Writer
    day: plan.SiteDay
    since: dt.date
    retry_unavailable: bool
    step: Callable[[str], None]
    report: SyncReport

    def table(self, spec: TableSpec) -> None:
        if spec.kind == "list":
            self.list_table(spec.name)
        elif spec.kind == "days":
            self.days_table(spec)
        else:
            self.history_table(spec)

    # -- lists -----------------------------------------------------------------------------------------------

    def list_table(self, table: str) -> None:
        state = self.writer.state(table)
        if state.listed is not None and state.listed.as_of == self.day.today:
            return
        self.step(f"{table}: the site's list as of {self.day.today}")
        name: ListName = "securities" if table == "securities" else "companies"
        rows = self._counted(self.site.listed(name)).to_arrow()
        if table == "securities":
            rows = self._valid_symbols(rows)
        old = state.listed.file if state.listed is not None else None
        relative = self.writer.part(table, rows)
        if old is not None and old != relative:
            del state.files[old]
        state.listed = ListEntry(as_of=self.day.today, file=relative, rows=rows.num_rows)
        if relative != old:  # an unchanged list's new day is committed with the run's next commit, or its last
            self.writer.commit()

    def _valid_symbols(self, rows: pa.Table) -> pa.Table:
        """The securities whose symbols look like NEPSE symbols; the others are reported and left out."""
        symbols = rows.column("symbol").to_pylist()
        valid = [is_valid_symbol(symbol) for symbol in symbols]
        for symbol, ok in zip(symbols, valid, strict=True):
            if not ok:
                self.report.refused.append(f"security {symbol!r}: not a NEPSE symbol (letters, digits, / & . -)")
        return rows.filter(pa.array(valid, pa.bool_())) if not all(valid) else rows

    def _security_ids(self) -> dict[str, int]:
        """``symbol -> security id`` from the stored security list (synced first if missing)."""
        listed = self.writer.state("securities").listed
        if listed is None:
            self.list_table("securities")
            listed = self.writer.state("securities").listed
            assert listed is not None
        stored = pq.read_table(resolve(self.writer.root, "securities", listed.file), columns=["symbol", "id"])
        return dict(zip(stored.column("symbol").to_pylist(), stored.column("id").to_pylist(), strict=True))

    # -- days ------------------------------------------------------------------------------------------------

    def days_table(self, spec: TableSpec) -> None:
        """Every day still needed, ``DAYS_PER_PULL`` pulled together; each written (or found unavailable) alone."""
        table, state = spec.name, self.writer.state(spec.name)
        candidates = plan.trading_days(self.since, self.day.final)
        days = plan.days_to_fetch(state, candidates, self.day.today, self.retry_unavailable)
        per_pull = DAYS_PER_PULL[table]
        for offset in range(0, len(days), per_pull):
            chunk = days[offset : offset + per_pull]
            self.step(f"{table} {chunk[0]}" + (f" .. {chunk[-1]}" if len(chunk) > 1 else ""))
            series = [_tagged(DAY_LISTINGS[table](day), day.isoformat()) for day in chunk]
            rows, failed = self._pull(series, _LISTING)
            for day in chunk:
                if day.isoformat() in failed:
                    self.report.failed.append(f"{table} {day}: {failed[day.isoformat()]}")
                    continue
                own = rows.filter(pc.equal(rows[_LISTING], day.isoformat()))
                problem = plan.day_problem(day, own.column("business_date").to_pylist())
                if problem is not None:
                    state.days[day] = plan.unavailable_day(state.days.get(day), self.day.today, problem)
                    self.report.unavailable.append(f"{table} {day}")
                    continue
                own = own.drop_columns([_LISTING, "business_date"]).sort_by(list(spec.sort))
                relative = self.writer.part(table, own, day=day)
                state.days[day] = DayEntry(status="complete", file=relative, rows=own.num_rows)
            self.writer.commit()

    # -- histories -------------------------------------------------------------------------------------------

    def history_table(self, spec: TableSpec) -> None:
        table, state = spec.name, self.writer.state(spec.name)
        listings = self._history_listings(table)
        gaps = plan.history_gaps(state, listings, self.since, self.day.final, self.retry_unavailable)
        keys = sorted(gaps)
        window_start = self.day.today - plan.HISTORY_WINDOW
        found: list[tuple[str, Gap]] = []
        for offset in range(0, len(keys), HISTORY_CHUNK):
            chunk = keys[offset : offset + HISTORY_CHUNK]
            self.step(f"{table}: series {offset + 1}-{offset + len(chunk)} of {len(keys)}")
            series = [s for key in chunk for s in listings[key](gaps[key])]
            rows, failed = self._pull(series, spec.series or "")
            kept: list[pa.Table] = []
            covers: dict[str, list[Range]] = {}
            for key in chunk:
                if key in failed:
                    self.report.failed.append(f"{table} {key}: {failed[key]}")
                    continue
                own = rows.filter(pc.equal(rows[spec.series or ""], _key_value(table, key)))
                for first, last in gaps[key]:
                    asked = own.filter(_between(own["business_date"], first, last))
                    covered, gap = plan.history_outcome(
                        (first, last), asked.column("business_date").to_pylist(), window_start
                    )
                    if covered is not None:
                        kept.append(asked)
                        covers.setdefault(key, []).append(covered)
                        state.cover(key, covered)
                    if gap is not None:
                        state.mark_unavailable(key, gap)
                        found.append((key, gap))
            if kept and sum(part.num_rows for part in kept):
                self.writer.part(table, pa.concat_tables(kept).sort_by(list(spec.sort)), covers=covers)
            self.writer.commit()
        self.report.gaps.extend(f"{table} {line}" for line in plan.group_gaps(found))

    def _history_listings(self, table: str) -> dict[str, Callable[[list[Range]], list[Series]]]:
        """Each series of a history table, and how to list its missing days (an index's history comes whole)."""
        if table == "index_history":
            return {str(i): functools.partial(_index_listings, i) for i in market.INDEX_IDS}
        return {
            symbol: functools.partial(_history_listings, symbol, sid) for symbol, sid in self._security_ids().items()
        }

    # -- pulls -----------------------------------------------------------------------------------------------

    def _pull(self, series: list[Series], label_column: str) -> tuple[pa.Table, dict[str, str]]:
        """The rows of every listing that completed, and ``{label: why}`` for those that did not (rows are sorted
        when they are written)."""
        try:
            result = self._counted(self.site.pull(series, ()))
        except IncompletePullError as error:
            why = f"pages still missing after every retry round ({type(error.__cause__).__name__})"
            if error.partial is None:
                return pa.table({}), {str(listing.label): why for listing in series}
            failed = {str(label): why for label in error.missing}
            rows = _plain(self._counted(error.partial).to_arrow())
            unfailed = pc.invert(pc.is_in(pc.cast(rows[label_column], pa.string()), pa.array(sorted(failed))))
            return rows.filter(unfailed), failed
        return _plain(result.to_arrow()), {}

    def _counted(self, result: PullResult) -> PullResult:
        self.report.pulls += 1
        self.report.rows += result.rows
        return result


def _index_listings(index_id: int, _: list[Range]) -> list[Series]:
    return [market.index_series(index_id)]


def _history_listings(symbol: str, security_id: int, days: list[Range]) -> list[Series]:
    return [market.history_series(symbol, security_id, first, last) for first, last in days]


def _tagged(series: Series, listing: str) -> Series:
    """``series`` with a column naming it on every row, so rows of listings pulled together are told apart."""
    return dataclasses.replace(series, constants=(*series.constants, (_LISTING, listing)))


def _plain(table: pa.Table) -> pa.Table:
    """``table`` with the columns a sync adds (symbol, listing) as plain strings."""
    for name in ("symbol", _LISTING):
        index = table.schema.get_field_index(name)
        if index >= 0 and pa.types.is_dictionary(table.schema.field(index).type):
            table = table.set_column(index, name, table.column(index).cast(pa.string()))
    return table


def _key_value(table: str, key: str) -> int | str:
    return int(key) if table == "index_history" else key


def _between(dates: pa.ChunkedArray, first: dt.date, last: dt.date) -> pa.ChunkedArray:
    return pc.and_(pc.greater_equal(dates, first), pc.less_equal(dates, last))


def _nepal_today() -> dt.date:
    return dt.datetime.now(NEPAL_TZ).date()


def _day(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise NepseInputError(f"{value!r} is not a date; use YYYY-MM-DD") from None
