"""Run a pull end to end: the engine on the pool, rows into memory or a file, and the result or the error.

A complete pull returns a :class:`PullResult` (and a streamed file gets its final name); a short one raises
:class:`IncompletePullError` with the missing pages and the rows that arrived. Any other exit (Ctrl-C included)
deletes the partial file, so no half-written file ever sits under a final name.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from nepse_ray.nepse.errors import NepseSchemaError

from .engine import ListingState, PagedPull, PageSource, Progress, PullLimits, Series, output_schema
from .errors import IncompletePullError
from .result import PullResult, SortKeys
from .sinks import FileSink, TableSink, file_sink
from .source import PoolPageSource, default_window

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI


def run_pull(
    api: NepseWorkerAPI,
    series: Sequence[Series],
    *,
    out: Path | str | None = None,
    sort: SortKeys = (),
    limits: PullLimits | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> PullResult:
    """Pull every listing of ``series`` through ``api`` (a window sized to the pool unless ``limits`` say)."""
    limits = limits or PullLimits(window=default_window(api))
    source = PoolPageSource(api)
    try:
        return pull_through(source, series, out=out, sort=sort, limits=limits, on_progress=on_progress)
    finally:
        source.close()


def pull_through(
    source: PageSource[object],
    series: Sequence[Series],
    *,
    out: Path | str | None = None,
    sort: SortKeys = (),
    limits: PullLimits | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PullResult:
    """:func:`run_pull` on any page source (and clock)."""
    schema = output_schema(series)
    sink: TableSink | FileSink | None = None
    try:  # the sink is made inside: a Ctrl-C just after its file was created must still remove it
        sink = file_sink(out, schema) if out is not None else TableSink(schema)
        listings = PagedPull(series, source, sink, limits, clock=clock, on_progress=on_progress).run()
    except BaseException:
        if isinstance(sink, FileSink):
            sink.abort()
        raise
    result = summarise(series[0].endpoint, listings, sort)
    if all(listing.complete for listing in listings):
        if isinstance(sink, FileSink):
            return dataclasses.replace(result, path=sink.commit())
        return dataclasses.replace(result, table=sink.table())
    if isinstance(sink, FileSink):
        partial = dataclasses.replace(result, path=sink.abort(keep=True))
    else:
        partial = dataclasses.replace(result, table=sink.table())
    short = [listing for listing in listings if not listing.complete]
    missing = {listing.series.label: listing.missing_pages() for listing in short}
    cause = next((listing.error for listing in short if listing.error is not None), None)
    if isinstance(cause, NepseSchemaError):  # the site changed its answer: running the pull again will not help
        raise cause
    raise IncompletePullError(series[0].endpoint, missing, partial, cause) from cause


def summarise(endpoint: str, listings: Sequence[ListingState], sort: SortKeys) -> PullResult:
    """The figures of a finished pull (without its rows)."""
    return PullResult(
        endpoint=endpoint,
        rows=sum(listing.rows for listing in listings),
        expected=sum(listing.expected or 0 for listing in listings),
        pages=sum(listing.pages for listing in listings),
        duplicates_dropped=sum(listing.duplicates for listing in listings),
        refetched_pages=sum(listing.refetched for listing in listings),
        listings=len(listings),
        unavailable=tuple(listing.series.label for listing in listings if listing.expected == 0),
        extras=dict(listings[0].extras) if listings else {},
        sort=sort,
    )
