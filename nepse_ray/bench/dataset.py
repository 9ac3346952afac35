"""The dataset scenario: a year of daily syncs, the files they leave and how long reading them takes, and what
durable commits (``fsync``) cost.

The year is synced from :class:`YearMarket`, an in-process site whose day the scenario moves: each answer is
generated from the day and the row's number in the catalogue's table shapes (:func:`nepse_ray.nepse.tables.schema`),
so a year of syncs costs seconds. The simulator would spend about two seconds per simulated day rebuilding a
year of history for each security; what this scenario measures is the dataset's own work (plans, parts, commits,
compaction, reads), which is the same whatever serves the pages. Each day the site serves its own floorsheet and
prices, a year of history for each security and the last 30 days of each index, as the real site does.

The year is synced three times into fresh folders: with ``fsync`` (as ``nepse-ray sync`` runs), without it (the
cost of durability is the ratio), and without compaction (the files a year leaves when parts are never merged).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from .. import dataset
from ..dataset.compact import MAX_FILES
from ..dataset.plan import HISTORY_WINDOW, trading_days
from ..dataset.site import ListName
from ..dataset.sync import run_sync
from ..nepse.models import MarketOpen
from ..nepse.tables import PageBatch, schema
from ..pulls import market
from ..pulls.engine import PullLimits, Series
from ..pulls.result import PullResult, SortKeys
from ..pulls.runner import pull_through
from .context import BenchContext
from .report import Goal, Value
from .scenario import Scenario

#: The first simulated day (a Sunday).
START = dt.date(2025, 1, 5)
INDEX_DAYS = 30
LIMITS = PullLimits(window=64, round_delay=0.0)
_NS_PER_DAY = 86_400 * 10**9


@dataclasses.dataclass
class YearMarket:
    """A site of ``securities`` securities and ``trades`` trades a day, on day :attr:`day`."""

    securities: int
    trades: int
    day: dt.date = START

    def market_open(self) -> MarketOpen:
        return MarketOpen.model_validate({"isOpen": "CLOSE", "asOf": f"{self.day}T15:00:00", "id": 80})

    def listed(self, name: ListName) -> PullResult:
        endpoint = "security_list" if name == "securities" else "company_list"
        ids = pa.array(self._ids())
        rows = synthetic(endpoint, self.securities, 0, id=ids, symbol=pa.array(self._symbols()))
        return PullResult.of_table(endpoint, pa.Table.from_batches([rows]), sort=market.LIST_ORDER)

    def pull(self, series: Sequence[Series], sort: SortKeys) -> PullResult:
        return pull_through(_Pages(self), series, sort=sort, limits=LIMITS)

    def listing(self, endpoint: str, params: Mapping[str, Any]) -> pa.RecordBatch:
        """Every row of one listing, as the site orders it."""
        salt = self.day.toordinal()
        if endpoint in ("floorsheet", "today_price"):
            if dt.date.fromisoformat(str(params["business_date"])) != self.day:
                return synthetic(endpoint, 0, salt)
            if endpoint == "today_price":
                ids, symbols = pa.array(self._ids()), pa.array(self._symbols())
                return synthetic(endpoint, self.securities, salt, security_id=ids, symbol=symbols, **self._today())
            base = int(self.day.strftime("%Y%m%d")) * 100_000_000 + 5_000_000
            contracts = pa.array(np.arange(base + self.trades, base, -1, dtype=np.int64))
            stocks = pa.array([self._ids()[n % self.securities] for n in range(self.trades)])
            return synthetic(endpoint, self.trades, salt, contract_id=contracts, stock_id=stocks, **self._today())
        if endpoint == "security_price_history":
            oldest = max(dt.date.fromisoformat(str(params["start_date"])), self.day - HISTORY_WINDOW)
            days = trading_days(oldest, min(dt.date.fromisoformat(str(params["end_date"])), self.day))[::-1]
        else:
            days = trading_days(self.day - dt.timedelta(days=2 * INDEX_DAYS), self.day)[::-1][:INDEX_DAYS]
        return synthetic(endpoint, len(days), salt, business_date=pa.array(days, pa.date32()))

    def _ids(self) -> list[int]:
        return [100 + n for n in range(self.securities)]

    def _symbols(self) -> list[str]:
        return [f"S{n:03d}" for n in range(self.securities)]

    def _today(self) -> dict[str, pa.Scalar]:
        return {"business_date": pa.scalar(self.day, pa.date32())}


class _Pages:
    """The engine's page source on a :class:`YearMarket`: each page is answered as it is asked."""

    def __init__(self, site: YearMarket) -> None:
        self._site = site
        self._done: list[tuple[object, PageBatch | Exception]] = []

    def submit(self, endpoint: str, params: dict[str, Any]) -> object:
        rows = self._site.listing(endpoint, params)
        page, size = params["page"], params["size"]
        pages = -(-rows.num_rows // size)
        handle = len(self._done), endpoint, page
        self._done.append((handle, PageBatch(endpoint, rows.slice(page * size, size), page, pages, rows.num_rows)))
        return handle

    def wait(self, handles: Sequence[object], timeout: float) -> list[tuple[object, PageBatch | Exception]]:
        done, self._done = self._done, []
        return done


def synthetic(endpoint: str, rows: int, salt: int, **fixed: pa.Array | pa.Scalar) -> pa.RecordBatch:
    """``rows`` rows of ``endpoint``'s table: ``fixed`` columns as given (a scalar fills the column), every other
    one made of numbers, texts, days or times that depend only on ``salt`` and the row's number."""
    shape = schema(endpoint)
    numbers = np.arange(rows, dtype=np.int64) + salt % 1_000
    columns = []
    for index, field in enumerate(shape):
        given = fixed.get(field.name)
        if isinstance(given, pa.Scalar):
            given = pa.array([given.as_py()] * rows, given.type)
        columns.append((given if given is not None else _column(field.type, numbers + index)).cast(field.type))
    return pa.RecordBatch.from_arrays(columns, schema=shape)


def _column(kind: pa.DataType, numbers: np.ndarray[Any, Any]) -> pa.Array:
    if pa.types.is_integer(kind):
        return pa.array(numbers * 7 % 100_000)
    if pa.types.is_floating(kind):
        return pa.array((numbers * 37 % 100_000) / 10.0)
    if pa.types.is_date(kind):
        return pa.array(numbers % 10_000, pa.int32()).cast(pa.date32())
    if pa.types.is_timestamp(kind):
        return pa.array((numbers % 10_000) * _NS_PER_DAY // 1_000, pa.int64()).cast(pa.timestamp("us")).cast(kind)
    text = pa.array([f"v{n % 97}" for n in numbers.tolist()])
    return text.dictionary_encode() if pa.types.is_dictionary(kind) else text


def dataset_year(context: BenchContext, p: Mapping[str, Any]) -> dict[str, Value]:
    """The year synced with fsync and without it day by day in turn (so both meet the same moments of a shared
    machine), then once more without compaction."""
    days = trading_days(START, START + dt.timedelta(days=p["days"] - 1))
    values: dict[str, Value] = {"syncs": Value(len(days), "")}
    with tempfile.TemporaryDirectory(prefix="nrb-dataset-") as folder:
        runs = {name: YearMarket(p["securities"], p["trades"]) for name in ("fsync", "no_fsync", "uncompacted")}
        seconds = dict.fromkeys(runs, 0.0)
        for number, day in enumerate(days):
            order = ["fsync", "no_fsync"] if number % 2 else ["no_fsync", "fsync"]
            for name in [*order, "uncompacted"]:
                runs[name].day = day
                started = time.perf_counter()
                run_sync(
                    runs[name],
                    Path(folder) / name,
                    since=days[0],
                    durable=name == "fsync",
                    compact=name != "uncompacted",
                    local_today=lambda: days[-1],
                )
                seconds[name] += time.perf_counter() - started
        for name, label in (("fsync", ""), ("uncompacted", "_uncompacted")):
            snap = dataset.snapshot(Path(folder) / name)
            values[f"files{label}"] = Value(sum(len(snap.files(table)) for table in dataset.TABLES), "")
            history = sum(len(snap.files(table)) for table in ("price_history", "index_history"))
            values[f"history_files{label}"] = Value(history, "")
            values[f"read{label}"] = Value(_read_seconds(snap), "s")
    values["sync_per_day"] = Value(seconds["fsync"] / len(days) * 1e3, "ms")
    values["sync_per_day_no_fsync"] = Value(seconds["no_fsync"] / len(days) * 1e3, "ms")
    values["fsync_ratio"] = Value(seconds["fsync"] / seconds["no_fsync"], "x")
    return values


def _read_seconds(snap: dataset.Snapshot, repeats: int = 3) -> float:
    """The best of ``repeats`` reads of every table of ``snap``, whole."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for table in dataset.TABLES:
            snap.open(table).to_table()
        best = min(best, time.perf_counter() - started)
    return best


SCENARIOS = (
    Scenario(
        "dataset-year",
        "a year of daily syncs of a small market (in-process site): files and the time to read every table, with "
        "compaction and without; sync time with fsync against without",
        dataset_year,
        full={"days": 365, "securities": 60, "trades": 500},
        quick={"days": 60, "securities": 20, "trades": 200},
        goals=(
            Goal("fsync_ratio", "<=", 1.2, "sync time with fsync <= 1.2 x without"),
            Goal("history_files", "<=", 2 * MAX_FILES, f"history files bounded (<= {MAX_FILES} per table)"),
        ),
    ),
)
