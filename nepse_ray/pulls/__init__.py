"""Bulk pulls on top of the pool: every page of a paged listing, checked complete, as Arrow, pandas or files.

``engine`` (pure: plans, windows, rounds, completeness), ``coverage`` (which rows arrived, by their rank at the
start), ``source`` (pages through the pool), ``sinks`` (memory, Parquet, CSV, JSON lines), ``result``
(:class:`PullResult`), ``runner`` (all of them together) and ``market`` (the pulls people call).
"""

from .engine import PagedPull, Progress, PullLimits, Series
from .errors import EmptyDayError, IncompletePullError, PagingError, PullTooLargeError, UnknownSymbolError
from .market import (
    INDEX_IDS,
    companies,
    index_history,
    price_history,
    pull_floorsheet,
    securities,
    security_ids,
    today_prices,
)
from .result import PullResult
from .runner import run_pull
from .sinks import OutputError

__all__ = [
    "INDEX_IDS",
    "EmptyDayError",
    "IncompletePullError",
    "OutputError",
    "PagedPull",
    "PagingError",
    "Progress",
    "PullLimits",
    "PullResult",
    "PullTooLargeError",
    "Series",
    "UnknownSymbolError",
    "companies",
    "index_history",
    "price_history",
    "pull_floorsheet",
    "run_pull",
    "securities",
    "security_ids",
    "today_prices",
]
