"""Where a sync gets its data: the site's day, its two lists and paged pulls, through a pool (:class:`PoolSite`).

A sync asks only these three things, so the dataset's rules (what to fetch, how files are written and committed)
run the same whatever serves the pages; the pool is what ``sync`` uses.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from ..pulls import market
from ..pulls.engine import Progress, Series
from ..pulls.result import PullResult, SortKeys
from ..pulls.runner import run_pull

if TYPE_CHECKING:
    from ..nepse.models import MarketOpen
    from ..pool.api import NepseWorkerAPI

ListName = Literal["securities", "companies"]


class Site(Protocol):
    """What a sync needs from NEPSE."""

    def market_open(self) -> MarketOpen:
        """The site's day and whether its market is in session."""
        ...

    def listed(self, name: ListName) -> PullResult:
        """The security list or the company list, whole."""
        ...

    def pull(self, series: Sequence[Series], sort: SortKeys) -> PullResult:
        """Every row of ``series``, or :class:`~nepse_ray.pulls.IncompletePullError` with those that arrived."""
        ...


@dataclasses.dataclass(frozen=True)
class PoolSite:
    """The site through a pool: pulls on its direct path, with ``on_progress`` told of each pull's pages."""

    api: NepseWorkerAPI
    on_progress: Callable[[Progress], None] | None = None

    def market_open(self) -> MarketOpen:
        return self.api.market_open()

    def listed(self, name: ListName) -> PullResult:
        return market.securities(self.api) if name == "securities" else market.companies(self.api)

    def pull(self, series: Sequence[Series], sort: SortKeys) -> PullResult:
        return run_pull(self.api, series, sort=sort, on_progress=self.on_progress)
