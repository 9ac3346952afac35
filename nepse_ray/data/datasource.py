"""``NepseDatasource``: NEPSE listings as a Ray Data source whose read tasks fetch pages through a nepse-ray pool.

Built on Ray Data's public V1 API (``Datasource.get_read_tasks`` and ``estimate_inmemory_data_size``, both
overridden, so Ray never takes its legacy reader path). What each side does:

* **The driver, once, in the constructor.** A single listing (a day's floorsheet or prices) has its page 0 read
  through the pool's interactive lane; it names the exact row count and page size (checked as every pull checks
  them: :func:`~nepse_ray.pulls.engine.plan`). Ray calls ``get_read_tasks`` four times or more per read, so it only
  cuts that plan into parts (:mod:`nepse_ray.data.parts`) and sends nothing: ``ds.count()`` adds the parts' exact
  counts without reading a row. Many listings (price histories) are cut into groups; their counts are unknown
  (``None``) until read, since learning them would cost as many requests as the read.
* **Each read task** holds plain data (:class:`PartRead`: the pool's name and namespace, its listings, the sort
  and the pull's limits). It finds the pool's coordinator by name and becomes a caller on the pool's direct path
  (:func:`~nepse_ray.pool.lookup.direct_requests`), so its requests are paced by the pool's tokens and rate
  limits: a task never proves a token of its own. It runs the pull engine over its part (a bounded window of
  pages in flight, retry rounds, rows kept by rank and each key once) and yields one block, sorted as the pulls
  sort, with the pulls' schema from :mod:`nepse_ray.nepse.tables` but plain strings where the pulls
  dictionary-encode them (:func:`block_schema`).
* **A task that dies** (its worker process killed) is run again by Ray Data from its start: it reads its part
  again, the engine keeps each row once, and the block it yields is the same, so the dataset holds every row once.
  Its pages cost the site's requests again.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import ray
from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata
from ray.exceptions import RayActorError, RayTaskError

from nepse_ray.nepse.tables import PageBatch, with_constants
from nepse_ray.pool.errors import PoolShutdownError, original_error
from nepse_ray.pool.lookup import direct_requests
from nepse_ray.pulls.engine import PullLimits, Series, output_schema, plan
from nepse_ray.pulls.result import SortKeys
from nepse_ray.pulls.runner import pull_through
from nepse_ray.pulls.source import PoolPageSource, default_window

from .parts import split_listing, task_spans

if TYPE_CHECKING:
    from ray.data.context import DataContext

    from nepse_ray.pool.api import NepseWorkerAPI


@dataclasses.dataclass(frozen=True)
class PartRead:
    """One read task's work, as plain data: pull ``series`` from pool ``pool_name`` in ``namespace`` and yield the
    rows as one block sorted by ``sort``. Calling it again reads again and yields the same rows."""

    pool_name: str
    namespace: str
    series: tuple[Series, ...]
    sort: SortKeys
    limits: PullLimits

    def __call__(self) -> Iterator[pa.Table]:
        source = PoolPageSource(direct_requests(self.pool_name, self.namespace))
        try:
            result = pull_through(source, self.series, sort=self.sort, limits=self.limits)
        finally:
            source.close()
        yield result.to_arrow().cast(block_schema(self.series))


class NepseDatasource(Datasource):
    """``series`` (listings of one endpoint) read through ``api``'s pool, rows sorted by ``sort``.

    One listing is read in parts with exact row counts (its page 0 is read here, once); several are read in groups
    of whole listings, counted only when read. Each task keeps the pulls' window of page requests for the pool
    submitted. The ``nepse_ray.data.read_*`` functions build it; pass it to ``ray.data.read_datasource`` for Ray's
    other read options.
    """

    def __init__(self, api: NepseWorkerAPI, series: Sequence[Series], sort: SortKeys = ()) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # Ray Data leaves it unannotated
        self._schema = block_schema(series)
        self._endpoint = series[0].endpoint
        self._limits = PullLimits(window=default_window(api))
        self._read = PartRead(api.options.pool_name, api.options.namespace, tuple(series), sort, self._limits)
        self._expected: int | None = None
        self._size = self._limits.size
        self._row_bytes = 0.0
        if len(series) == 1:
            first = first_page(api, series[0], self._limits)
            coverage = plan(series[0], first, self._limits)
            self._expected, self._size = coverage.expected, coverage.size
            decoded = with_constants(first.rows, series[0].constants).cast(self._schema)
            self._row_bytes = decoded.nbytes / max(decoded.num_rows, 1)

    @property
    def most_tasks(self) -> int:
        """The most read tasks any parallelism gets (a task has a window of pages or listings at least)."""
        return len(self.get_read_tasks(sys.maxsize))

    def get_name(self) -> str:
        """``NepseFloorsheet``, ``NepseTodayPrice``...: Ray names the read operator (and its tasks) ``Read`` + this."""
        return "Nepse" + "".join(word.title() for word in self._endpoint.split("_"))

    def estimate_inmemory_data_size(self) -> int | None:
        return None if self._expected is None else int(self._expected * self._row_bytes)

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: DataContext | None = None
    ) -> list[ReadTask]:
        """The read tasks for Ray Data's ``parallelism`` (a hint: never more tasks than there are pages or listings
        to fill a task's window); no network calls."""
        window = self._limits.window
        if self._expected is None:
            listings = self._read.series
            spans = task_spans(len(listings), parallelism, window)
            return [self._task(listings[span.start : span.stop], None, per_task_row_limit) for span in spans]
        parts = split_listing(self._expected, self._size, parallelism, window, limit=per_task_row_limit)
        (listing,) = self._read.series
        return [self._task((dataclasses.replace(listing, part=p),), p.rows, per_task_row_limit) for p in parts]

    def _task(self, series: tuple[Series, ...], rows: int | None, limit: int | None) -> ReadTask:
        size = None if rows is None else int(rows * self._row_bytes)
        metadata = BlockMetadata(num_rows=rows, size_bytes=size, exec_stats=None, input_files=None)
        read = dataclasses.replace(self._read, series=series)
        return ReadTask(read, metadata, schema=self._schema, per_task_row_limit=limit)


def block_schema(series: Sequence[Series]) -> pa.Schema:
    """The schema of a read's blocks: the pulls' (:func:`~nepse_ray.pulls.engine.output_schema`), with plain strings
    for the dictionary-encoded ones. Blocks of different tasks hold different dictionaries, which Ray Data's
    shuffles cannot combine (a ``groupby`` over symbols fails in pyarrow with "Unifying differing dictionaries")."""
    fields = output_schema(series)
    return pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in fields])


def first_page(api: NepseWorkerAPI, series: Series, limits: PullLimits) -> PageBatch:
    """Page 0 of listing ``series`` through ``api``'s interactive lane, as Arrow; the pool's errors as raised."""
    params: dict[str, Any] = {**series.params, "page": 0, "size": limits.size}
    ref = api.submit(series.endpoint, params, priority="interactive", form="arrow")
    try:
        batch: PageBatch = ray.get(ref)
    except RayTaskError as error:
        raise original_error(error) from None
    except RayActorError:
        raise PoolShutdownError(endpoint=series.endpoint) from None
    return batch
