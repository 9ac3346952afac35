"""What a pull can raise on top of the protocol's errors; each message says what happened and what to do.
(:class:`~nepse_ray.pulls.sinks.OutputError` lives with the files it is about.)

They pickle like every :class:`~nepse_ray.nepse.errors.NepseError` (a Ray job can pass them on); the tree of all
nepse-ray exceptions is drawn in :mod:`nepse_ray.nepse.errors`.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from nepse_ray.nepse.errors import NepseError, NepseInputError, PagingError

if TYPE_CHECKING:
    from .result import PullResult

__all__ = ["IncompletePullError", "PagingError", "PullTooLargeError", "UnknownSymbolError"]


class PullTooLargeError(NepseInputError):
    """The site announced more pages than the pull's hard maximum (``max_pages``)."""


class UnknownSymbolError(NepseInputError):
    """A symbol is not in the site's security list."""

    def __init__(self, unknown: Sequence[str], known: Iterable[str]) -> None:
        known = list(known)
        hints = []
        for symbol in unknown:
            close = difflib.get_close_matches(symbol.upper(), known, n=3, cutoff=0.6)
            hints.append(f"{symbol} (did you mean {', '.join(close)}?)" if close else symbol)
        super().__init__(f"unknown symbol(s): {'; '.join(hints)}; the security list has {len(known)} symbols")
        self.unknown = tuple(unknown)


class EmptyDayError(NepseInputError):
    """The day asked for has no trades on the site: a day after its latest, a Friday or Saturday, or a holiday.

    ``latest`` is the site's latest trading day, ``next_trading_day`` the first Sunday to Thursday after the day
    (after the latest for a day still to come). Pass ``allow_empty=True`` (``--allow-empty``) to accept the day.
    """

    def __init__(
        self, endpoint: str, day: dt.date | None, why: str, latest: dt.date, next_trading_day: dt.date
    ) -> None:
        asked = "the site's current day" if day is None else str(day)
        super().__init__(
            f"{endpoint}: {asked} {why}; the site's latest trading day is {latest}, the next trading day "
            f"{next_trading_day}. Ask for a trading day, or accept an empty day with allow_empty=True "
            "(--allow-empty)",
            endpoint=endpoint,
        )
        self.day = day
        self.latest = latest
        self.next_trading_day = next_trading_day


class IncompletePullError(NepseError):
    """Pages were still missing after the pull's last round.

    ``missing`` maps each listing that is short (its label: a date, a symbol, an index id) to its missing page
    numbers (page 0 when not even the first page arrived). ``partial`` is a :class:`~nepse_ray.pulls.PullResult`
    with every row that did arrive; for a pull streamed to a file, those rows are in ``partial.path`` (the
    ``.partial`` file next to the one asked for), never under the final name.
    """

    def __init__(
        self,
        endpoint: str,
        missing: Mapping[object, Sequence[int]],
        partial: PullResult | None,
        cause: BaseException | None = None,
    ) -> None:
        pages = sum(len(p) for p in missing.values())
        shown = "; ".join(f"{label}: pages {_ranges(p)}" for label, p in list(missing.items())[:5])
        more = f" and {len(missing) - 5} more listings" if len(missing) > 5 else ""
        why = f"; last error: {type(cause).__name__}: {cause}" if cause is not None else ""
        kept = ""
        if partial is not None:
            where = str(partial.path) if partial.path is not None else "the error's .partial result"
            kept = f"; the {partial.rows:,} rows that arrived are in {where}"
        super().__init__(
            f"{endpoint}: {pages} page(s) still missing after every retry round ({shown}{more}){why}{kept}. "
            "Run the pull again later, or raise max_rounds",
            endpoint=endpoint,
            retryable=True,
        )
        self.missing = {label: tuple(p) for label, p in missing.items()}
        self.partial = partial


def _ranges(pages: Sequence[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"`` (at most 8 ranges shown)."""
    spans: list[str] = []
    ordered = sorted(pages)
    start = previous = ordered[0] if ordered else 0
    for page in [*ordered[1:], None]:
        if page is not None and page == previous + 1:
            previous = page
            continue
        spans.append(str(start) if start == previous else f"{start}-{previous}")
        if page is not None:
            start = previous = page
    return ", ".join(spans[:8]) + (" ..." if len(spans) > 8 else "")
