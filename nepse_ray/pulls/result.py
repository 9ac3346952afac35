"""``PullResult``: what a pull returns, its completeness figures, and the ways out to Arrow, pandas and files.

>>> import pyarrow as pa
>>> newest_first = (("contract_id", "descending"),)
>>> result = PullResult.of_table("floorsheet", pa.table({"contract_id": [1, 3, 2]}), sort=newest_first)
>>> result.rows, result.complete, result.to_arrow().column("contract_id").to_pylist()
(3, True, [3, 2, 1])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from nepse_ray.nepse.errors import NepseInputError

from .sinks import write_table

if TYPE_CHECKING:
    import pandas as pd

SortKeys = tuple[tuple[str, Literal["ascending", "descending"]], ...]


@dataclasses.dataclass(frozen=True)
class PullResult:
    """Rows of a pull and how they add up.

    ``rows`` kept (each once), ``expected`` (the sum of the ``totalElements`` each listing announced when the pull
    started), ``pages`` (of the listings as they were at the start), ``duplicates_dropped`` (rows seen twice, as
    pages shift while the market is open), ``refetched_pages`` (page reads beyond the first of each page: retry
    rounds and pages re-read because rows slid), ``listings`` (days, symbols or indices pulled) and
    ``unavailable`` (the labels of listings that came back empty). ``extras`` has the first listing's wrapper
    totals (the floorsheet's ``totalTrades``, ``totalQty``, ``totalAmount``).

    Rows are held in memory, or were streamed to ``path`` (a Parquet file is read back by :meth:`to_arrow`).
    """

    endpoint: str
    rows: int
    expected: int
    pages: int
    duplicates_dropped: int = 0
    refetched_pages: int = 0
    listings: int = 1
    unavailable: tuple[object, ...] = ()
    extras: Mapping[str, float | int | None] = dataclasses.field(default_factory=dict)
    path: Path | None = None
    sort: SortKeys = ()
    table: pa.Table | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def of_table(cls, endpoint: str, table: pa.Table, *, sort: SortKeys = ()) -> PullResult:
        """A complete result of a one-shot list (securities, companies)."""
        return cls(endpoint, table.num_rows, table.num_rows, 1, sort=sort, table=table)

    @property
    def complete(self) -> bool:
        """True when every row the site announced at the start arrived, each once."""
        return self.rows == self.expected

    def to_arrow(self) -> pa.Table:
        """The rows as one Arrow table, sorted (floorsheet: newest contract first)."""
        if self.table is not None:
            table = self.table
        elif self.path is not None and self.path.suffix.lower() == ".parquet":
            table = pq.read_table(self.path)
        else:
            raise NepseInputError(
                f"the rows of this pull were written to {self.path}; read that file (pandas.read_csv / read_json)"
            )
        table = table.unify_dictionaries()  # each page brought its own dictionary of symbols
        return table.sort_by(list(self.sort)) if self.sort else table

    def to_pandas(self) -> pd.DataFrame:
        """The rows as a DataFrame: symbols as categories, dates and times as datetime64 (times in Nepal time)."""
        frame: pd.DataFrame = self.to_arrow().to_pandas(date_as_object=False)
        return frame

    def to_parquet(self, path: Path | str) -> Path:
        return self._write(path, ".parquet")

    def to_csv(self, path: Path | str) -> Path:
        """CSV with a header; text cells that would run as spreadsheet formulas are escaped with a leading ``'``."""
        return self._write(path, ".csv")

    def to_jsonl(self, path: Path | str) -> Path:
        """One JSON object per row; dates and times in ISO 8601."""
        return self._write(path, ".jsonl")

    def _write(self, path: Path | str, suffix: str) -> Path:
        path = Path(path)
        if path.suffix.lower() != suffix:
            raise NepseInputError(f"{path}: expected a {suffix} file name")
        return write_table(self.to_arrow(), path)

    def __str__(self) -> str:
        state = "complete" if self.complete else "INCOMPLETE"
        where = f" -> {self.path}" if self.path else ""
        return (
            f"{self.endpoint}: {self.rows:,} of {self.expected:,} rows ({state}) from {self.pages:,} pages, "
            f"{self.duplicates_dropped:,} duplicates dropped, {self.refetched_pages:,} pages re-read{where}"
        )
