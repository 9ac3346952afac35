"""A sync's site on one ``NepseClient``, without Ray: the real simulator's pages, one after another, in-process.

The dataset tests start many short writers (killed at every step, beside readers); a pool in each would cost
seconds of Ray start-up per run, and what they test is the dataset, not the pool (``test_dataset.py`` syncs
through a pool on the session's cluster). ``securities`` keeps the first N securities of the site's list, so
price history stays a few dozen requests. ``answer`` lets a test stand in for a site that misbehaves: it sees
each page request and may return an error or other parameters to send instead.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from nepse_ray.dataset.site import ListName
from nepse_ray.nepse.client import NepseClient, read_checked_body
from nepse_ray.nepse.models import MarketOpen
from nepse_ray.nepse.tables import PageBatch
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.pulls import market
from nepse_ray.pulls.engine import PullLimits, Series
from nepse_ray.pulls.result import PullResult, SortKeys
from nepse_ray.pulls.runner import pull_through
from nepse_ray.pulls.source import as_page

#: A hook on each page request: an error to answer with, new parameters to send, or None to send it unchanged.
Answer = Callable[[str, dict[str, Any]], Exception | dict[str, Any] | None]
LIMITS = PullLimits(window=8, max_rounds=2, round_delay=0.0, poll=0.05)


class ClientPageSource:
    """Each request is made when it is submitted; :meth:`wait` hands back every answer made since."""

    def __init__(self, client: NepseClient, answer: Answer | None) -> None:
        self._client = client
        self._answer = answer
        self._numbers = itertools.count()
        self._done: list[tuple[object, PageBatch | Exception]] = []

    def submit(self, endpoint: str, params: dict[str, Any]) -> object:
        number = next(self._numbers)
        hooked = self._answer(endpoint, params) if self._answer is not None else None
        if isinstance(hooked, Exception):
            self._done.append((number, hooked))
            return number
        try:
            body = self._client.fetch(endpoint, hooked or params, read_checked_body)
            self._done.append((number, as_page(endpoint, body)))
        except Exception as error:
            self._done.append((number, error))
        return number

    def wait(self, handles: Sequence[object], timeout: float) -> list[tuple[object, PageBatch | Exception]]:
        if not self._done:
            time.sleep(timeout)
        done, self._done = self._done, []
        return done


@dataclasses.dataclass
class ClientSite:
    base_url: str
    securities: int | None = 12
    answer: Answer | None = None
    limits: PullLimits = LIMITS
    client: NepseClient = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.client = NepseClient(self.base_url, rate=1_000.0, burst=50)

    def market_open(self) -> MarketOpen:
        return self.client.market_open()

    def listed(self, name: ListName) -> PullResult:
        api = cast(NepseWorkerAPI, self.client)  # the lists need only the typed methods a client has too
        result = market.securities(api) if name == "securities" else market.companies(api)
        if name == "companies" or self.securities is None:
            return result
        kept = result.to_arrow().slice(0, self.securities)
        return PullResult.of_table(result.endpoint, kept, sort=result.sort)

    def pull(self, series: Sequence[Series], sort: SortKeys) -> PullResult:
        source = ClientPageSource(self.client, self.answer)
        return pull_through(source, series, sort=sort, limits=self.limits)
