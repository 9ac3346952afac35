"""The paged-listing engine: every page of one or many listings, in a bounded window, until each is complete.

Pure: no Ray, no threads, no sleeping. It talks to a :class:`PageSource` (submit a page request, wait for some
answers, with a timeout in which the source may sleep) and hands the rows it keeps to a :class:`RowSink`. Time
comes from an injected clock, so tests drive a fake source and a fake clock.

The rules, in order:

1. **Page 0 first.** It names the listing's ``totalElements`` (the rows the pull promises, ``expected``) and
   ``totalPages``, which must equal ``ceil(expected / size)`` (else :class:`PagingError`) and stay within
   ``max_pages`` (else :class:`PullTooLargeError`): :func:`plan`. The rest of the listing's pages are queued
   ahead of any listing not started yet, so listings finish one after another and few are open at once. A
   listing read in parts (:class:`Part`: its page 0 was read and planned elsewhere) starts with the pages of its
   part instead, and keeps only the rows of its part.
2. **A bounded window.** At most ``window`` requests are submitted at a time; the rest wait as plain data.
3. **Rows by rank.** Each answer's rows are numbered in the listing's starting order (:class:`Coverage`), so
   rows newer than the pull are left out, and a row whose key was seen before is dropped as a duplicate.
4. **Rounds.** When a listing has nothing in flight, the ranks still missing (pages that failed after the pool's
   own retries, or rows that slid between pages of a live floorsheet) name the pages to read again; the next
   round reads them, after ``round_delay * round`` seconds if the round saw failures. After ``max_rounds`` rounds
   the listing is given up and reported with its missing pages. An error that is not retryable ends its listing
   at once (a required field the site dropped, :class:`~nepse_ray.nepse.errors.NepseSchemaError`, among them).
5. **Drift.** Optional fields no row of a page had (``PageBatch.absent``: the site dropped or renamed them) are
   null in the result, and said once per pull and endpoint in a warning of the ``nepse_ray`` logger.
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import math
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar

import pyarrow as pa

from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.tables import Constants, PageBatch, schema, with_constants

from .coverage import Coverage
from .errors import PagingError, PullTooLargeError

H = TypeVar("H", bound=Hashable)

logger = logging.getLogger("nepse_ray")


@dataclasses.dataclass(frozen=True, slots=True)
class Part:
    """Ranks ``first .. stop - 1`` of a listing whose page 0, read and planned elsewhere (:func:`plan`), announced
    ``expected`` rows in pages of ``size``: what one of several readers of a listing owns."""

    expected: int
    size: int
    first: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.first


@dataclasses.dataclass(frozen=True, slots=True)
class Series:
    """One paged listing to read in full: an endpoint and its parameters (without ``page`` and ``size``).

    ``key`` is the column that identifies a row (duplicates are dropped by it); ``drift`` says the listing is
    sorted newest first and grows on top while it is read (a live floorsheet); ``constants`` are columns added to
    every row (a price-history page does not say whose it is); ``label`` names the listing in errors; ``part``
    reads only that part of it.
    """

    endpoint: str
    params: Mapping[str, Any]
    key: str
    label: Hashable
    drift: bool = False
    constants: Constants = ()
    part: Part | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PullLimits:
    """How hard a pull tries. ``window`` is the most requests submitted at once."""

    size: int = 500
    window: int = 40
    max_rounds: int = 5
    max_pages: int = 5_000
    round_delay: float = 2.0
    poll: float = 0.25

    def __post_init__(self) -> None:
        for name in ("size", "window", "max_rounds", "max_pages"):
            if getattr(self, name) < 1:
                raise NepseInputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.round_delay < 0 or self.poll <= 0:
            raise NepseInputError("round_delay must not be negative and poll must be positive")


class PageSource(Protocol[H]):
    """Where pages come from: the pool (:mod:`nepse_ray.pulls.source`) or a fake in tests."""

    def submit(self, endpoint: str, params: dict[str, Any]) -> H:
        """Start one request; the handle comes back from :meth:`wait` with its answer."""
        ...

    def wait(self, handles: Sequence[H], timeout: float) -> list[tuple[H, PageBatch | Exception]]:
        """Answers of some of ``handles``, waiting up to ``timeout`` seconds for the first (sleeping if none)."""
        ...


class RowSink(Protocol):
    """Takes the rows a pull keeps, batch by batch."""

    def write(self, batch: pa.RecordBatch) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class Progress:
    """A pull in motion: pages answered of pages known so far, rows kept, seconds since it started."""

    pages_done: int
    pages_total: int
    rows: int
    elapsed: float
    in_flight: int


@dataclasses.dataclass(slots=True)
class ListingState:
    """One listing's bookkeeping while it is pulled, and its outcome afterwards."""

    series: Series
    coverage: Coverage | None = None
    round: int = 1
    round_failures: int = 0
    outstanding: int = 0  # queued, delayed or in flight
    rows: int = 0
    duplicates: int = 0
    fetches: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    seen: set[object] = dataclasses.field(default_factory=set)
    last_error: Exception | None = None
    fatal: Exception | None = None
    given_up: bool = False
    extras: Mapping[str, float | int | None] = dataclasses.field(default_factory=dict)

    @property
    def expected(self) -> int | None:
        """Rows the listing (or its part) held when its page 0 was read; None before."""
        return None if self.coverage is None else self.coverage.wanted

    @property
    def pages(self) -> int:
        return 1 if self.coverage is None else self.coverage.pages

    @property
    def refetched(self) -> int:
        return sum(n - 1 for n in self.fetches.values())

    @property
    def error(self) -> Exception | None:
        """The error that ended this listing, else the last one a page met."""
        return self.fatal or self.last_error

    @property
    def complete(self) -> bool:
        return self.fatal is None and self.coverage is not None and self.rows == self.coverage.wanted

    def missing_pages(self) -> list[int]:
        return [0] if self.coverage is None else self.coverage.pages_to_fetch()


@dataclasses.dataclass(frozen=True, slots=True)
class _Request:
    listing: int
    page: int


class PagedPull(Generic[H]):
    """Pull ``series`` through ``source`` into ``sink``; :meth:`run` returns every listing's state."""

    def __init__(
        self,
        series: Sequence[Series],
        source: PageSource[H],
        sink: RowSink,
        limits: PullLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.limits = limits or PullLimits()
        self._source = source
        self._sink = sink
        self._clock = clock
        self._on_progress = on_progress
        self.listings = [ListingState(s) for s in series]
        self._queue: collections.deque[_Request] = collections.deque()
        self._delayed: list[tuple[float, _Request]] = []
        self._in_flight: dict[H, _Request] = {}
        self._pages_done = 0
        self._rows = 0
        self._absent_said: set[str] = set()
        for number, listing in enumerate(self.listings):
            part = listing.series.part
            if part is not None:
                ranks = range(part.first, part.stop)
                listing.coverage = Coverage(part.expected, part.size, listing.series.drift, ranks)
            pages = [0] if listing.coverage is None else listing.coverage.pages_to_fetch()
            self._queue.extend(_Request(number, page) for page in pages)
            listing.outstanding = len(pages)

    def run(self) -> list[ListingState]:
        started = self._clock()
        while self._in_flight or self._queue or self._delayed:
            self._release_due()
            self._fill_window()
            timeout = self.limits.poll
            if self._delayed and not self._queue:
                timeout = max(0.0, min(timeout, min(due for due, _ in self._delayed) - self._clock()))
            for handle, answer in self._source.wait(list(self._in_flight), timeout):
                request = self._in_flight.pop(handle)
                self._answered(request, answer)
            if self._on_progress is not None:
                self._on_progress(self._progress(started))
        return self.listings

    def _progress(self, started: float) -> Progress:
        total = max(self._pages_done, sum(listing.pages + listing.refetched for listing in self.listings))
        elapsed = self._clock() - started
        return Progress(self._pages_done, total, self._rows, elapsed, len(self._in_flight))

    def _release_due(self) -> None:
        now = self._clock()
        due = [entry for entry in self._delayed if entry[0] <= now]
        if due:
            self._delayed = [entry for entry in self._delayed if entry[0] > now]
            self._queue.extend(request for _, request in due)

    def _fill_window(self) -> None:
        while self._queue and len(self._in_flight) < self.limits.window:
            request = self._queue.popleft()
            listing = self.listings[request.listing]
            if listing.fatal is not None:  # ended while this request waited
                listing.outstanding -= 1
                continue
            params = {**listing.series.params, "page": request.page, "size": self.limits.size}
            self._in_flight[self._source.submit(listing.series.endpoint, params)] = request

    def _answered(self, request: _Request, answer: PageBatch | Exception) -> None:
        listing = self.listings[request.listing]
        listing.outstanding -= 1
        if listing.fatal is None:
            if isinstance(answer, Exception):
                self._failed(listing, answer)
            else:
                self._keep(request, listing, answer)
        if listing.outstanding == 0 and listing.fatal is None:
            self._end_round(request.listing, listing)

    def _failed(self, listing: ListingState, error: Exception) -> None:
        if getattr(error, "retryable", False):
            listing.last_error = error
            listing.round_failures += 1
        else:
            listing.fatal = error

    def _keep(self, request: _Request, listing: ListingState, batch: PageBatch) -> None:
        if batch.absent and batch.endpoint not in self._absent_said:
            self._absent_said.add(batch.endpoint)
            logger.warning(
                "%s: the site's rows lack the field(s) %s, so their columns are null; the site seems to have renamed "
                "or dropped them (nepse-ray doctor names the change)",
                batch.endpoint,
                ", ".join(batch.absent),
            )
        if listing.coverage is None:
            try:
                listing.coverage = plan(listing.series, batch, self.limits)
            except (PagingError, PullTooLargeError) as error:
                listing.fatal = error
                return
            listing.extras = batch.extras
            later = [_Request(request.listing, page) for page in range(1, listing.coverage.pages)]
            self._queue.extendleft(reversed(later))
            listing.outstanding += len(later)
        coverage = listing.coverage
        listing.fetches[request.page] += 1
        self._pages_done += 1
        rows = batch.rows
        first = coverage.first_rank(request.page, batch.total_elements)
        inside = coverage.in_listing(first, rows.num_rows)
        keys = rows.column(listing.series.key).to_pylist()
        keep = [False] * rows.num_rows
        for j, key in enumerate(keys):
            if not inside[j]:
                continue
            if key in listing.seen:
                listing.duplicates += 1
            else:
                listing.seen.add(key)
                keep[j] = True
        coverage.cover(first, rows.num_rows)
        kept = rows.filter(pa.array(keep, type=pa.bool_())) if not all(keep) else rows
        if kept.num_rows:
            listing.rows += kept.num_rows
            self._rows += kept.num_rows
            self._sink.write(with_constants(kept, listing.series.constants))

    def _end_round(self, number: int, listing: ListingState) -> None:
        """Nothing of this listing is in flight: it is complete, or the next round reads its missing pages."""
        if not listing.missing_pages():
            return
        if listing.round >= self.limits.max_rounds:
            listing.given_up = True
            return
        delay = self.limits.round_delay * listing.round if listing.round_failures else 0.0
        listing.round += 1
        listing.round_failures = 0
        pages = [0] if listing.coverage is None else listing.coverage.next_round()
        due = self._clock() + delay
        self._delayed.extend((due, _Request(number, page)) for page in pages)
        listing.outstanding += len(pages)


def output_schema(series: Iterable[Series]) -> pa.Schema:
    """The schema of the rows a pull of ``series`` writes (one endpoint and one set of constant columns)."""
    kinds = {(s.endpoint, tuple(name for name, _ in s.constants)) for s in series}
    if len(kinds) != 1:
        raise NepseInputError("a pull writes one table: every listing must have the same endpoint and columns")
    first = next(iter(series))
    return schema(first.endpoint, first.constants)


def plan(series: Series, batch: PageBatch, limits: PullLimits) -> Coverage:
    """The coverage of listing ``series`` from its page 0, after checking the paging it announces (rule 1)."""
    expected, size = batch.total_elements, limits.size
    if expected < 0 or batch.total_pages != math.ceil(expected / size):
        served = batch.rows.num_rows
        # A site that serves smaller pages than asked for still adds up with the size it used.
        if not (0 < served < size and batch.total_pages == math.ceil(expected / served)):
            raise PagingError(
                f"{series.endpoint} {series.label}: the site announced {batch.total_pages} pages for "
                f"{expected} rows, which does not fit pages of {size}; its paging cannot be trusted",
                endpoint=series.endpoint,
            )
        size = served
    pages = math.ceil(expected / size)
    if pages > limits.max_pages:
        raise PullTooLargeError(
            f"{series.endpoint} {series.label}: the site announced {pages:,} pages ({expected:,} rows), more "
            f"than max_pages={limits.max_pages:,}; raise max_pages if that is expected",
            endpoint=series.endpoint,
        )
    return Coverage(expected, size, series.drift)
