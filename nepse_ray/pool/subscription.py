"""``Stream``: a live stream as a subscriber holds it — ``for tick in api.stream("live_market")`` or ``async for``.

A thin iterator over the coordinator's stream hub (``hub.py``): each step is one long poll
(``PoolCoordinator.stream_fetch``) with the subscriber's cursor, answered with the ticks that follow it or news of
the market. The first tick is a snapshot of every row; each later one holds the rows that changed. While the
market is closed the stream yields nothing: it logs when the market opens and waits (``until_close=False``), or
ends (``until_close=True``), so a closed day gives no ticks at all.

>>> with NepseWorkerAPI(base_url=sim.base_url) as api:                            # doctest: +SKIP
...     for tick in api.stream("nepse_index", interval=5.0, until_close=True):
...         print(tick.at, tick.to_pandas()[["index", "close"]])
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from nepse_ray.stream.feeds import FeedKey
from nepse_ray.stream.tick import Cursor, Delivery, MarketState, Tick

if TYPE_CHECKING:
    from nepse_ray.pool.api import NepseWorkerAPI

#: Seconds one long poll may wait for news before it comes back empty (the subscriber then asks again).
LONG_POLL = 10.0


class Stream:
    """A live stream of one feed for one subscriber; iterate it for :class:`~nepse_ray.stream.tick.Tick` s.

    ``market`` is the market's state as last reported, ``polls`` the feed's polls so far (shared by every
    subscriber of the pool), ``error`` why the last poll failed, if it did. :meth:`close` (or leaving the loop)
    ends the subscription; the pool stops polling a feed whose last subscriber left.
    """

    def __init__(self, api: NepseWorkerAPI, key: FeedKey, *, until_close: bool = False) -> None:
        self.key = key
        self.until_close = until_close
        self.market: MarketState | None = None
        self.polls = 0
        self.error: str | None = None
        self._api = api
        self._subscriber = uuid.uuid4().hex
        self._cursor: Cursor | None = None
        self._ended = False

    def __iter__(self) -> Iterator[Tick]:
        try:
            while not self._ended:
                yield from self._take(self._api._resolve(self._fetch()))
        finally:
            self.close()

    async def __aiter__(self) -> AsyncIterator[Tick]:
        try:
            while not self._ended:
                for tick in self._take(await self._api._resolve_async(self._fetch())):
                    yield tick
        finally:
            self.close()

    def close(self) -> None:
        """End the subscription (iterating again yields nothing)."""
        if not self._ended:
            self._ended = True
            if not self._api.closed:
                self._api._coordinator.stream_leave.remote(self.key, self._subscriber)

    def _fetch(self) -> Any:
        known = self.market.open if self.market is not None else None
        return self._api._coordinator.stream_fetch.remote(self.key, self._subscriber, self._cursor, known, LONG_POLL)

    def _take(self, delivery: Delivery) -> tuple[Tick, ...]:
        """Keep what ``delivery`` says (cursor, market, polls, error) and return its ticks; say what changed."""
        self._cursor, self.polls = delivery.cursor, delivery.polls
        if delivery.error != self.error and delivery.error is not None:
            self._api._log.warn(f"stream {self.key}: the last poll failed ({delivery.error}); polling on")
        self.error = delivery.error
        market, before = delivery.market, self.market
        self.market = market
        if market.open is not None and (before is None or before.open != market.open):
            closed = market.open is False
            waiting = "; the stream ends" if closed and self.until_close else ("; waiting" if closed else "")
            self._api._log.log(f"stream {self.key}: {market.describe()}{waiting}")
        if market.open is False and self.until_close:
            self._ended = True
        return delivery.ticks

    def __repr__(self) -> str:
        state = "ended" if self._ended else (self.market.describe() if self.market else "starting")
        return f"Stream({self.key}, {self.polls} poll(s), {state})"
