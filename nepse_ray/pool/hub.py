"""``StreamHub``: the coordinator's live streams — one poll per feed and interval for every subscriber of the pool,
in any driver, and each subscriber's ticks delivered at its own cursor.

It runs on the coordinator's home loop beside the request path. The schedule (``schedule.py``: feeds,
subscribers, market checks, the streams' budget) says what to send; each poll is an ordinary interactive-lane
request through :meth:`Coordinator.call <nepse_ray.pool.coordinator.Coordinator.call>` (the pool's retries, rate
cap and stats apply), answered in the ``raw`` form and cut into rows here; each feed's
:class:`~nepse_ray.stream.log.FeedLog` turns the rows into ticks of what changed. A subscriber's fetch
(:meth:`StreamHub.fetch`, a long poll from the actor's interactive group) answers as soon as there are ticks after
its cursor or news of the market, else after ``wait`` seconds with none.

Whether bulk work runs, which decides if the streams' budget applies, is read from the coordinator at each decision
(:meth:`Coordinator.bulk_load <nepse_ray.pool.coordinator.Coordinator.bulk_load>`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import secrets
import time
from collections.abc import Callable

from nepse_ray.nepse.errors import NepseError
from nepse_ray.nepse.models import MarketOpen
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.pool.coordinator import Coordinator
from nepse_ray.pool.errors import PoolShutdownError
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.request import PoolRequest
from nepse_ray.pool.schedule import Action, Schedule, recheck_after
from nepse_ray.pool.wire import Wire
from nepse_ray.stream.feeds import FeedKey
from nepse_ray.stream.log import FeedLog
from nepse_ray.stream.tick import Cursor, Delivery, MarketState

log = logging.getLogger("nepse_ray.pool.hub")

#: The caller id of the streams' requests: one caller in the pool's round-robin.
STREAM_CALLER = "nepse-ray-streams"
#: The longest a fetch waits for news before it answers with none.
MAX_WAIT = 30.0


class StreamHub:
    """The pool's live streams (see the module docstring); one per coordinator, driven on its home loop."""

    def __init__(
        self,
        core: Coordinator,
        options: PoolOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(NEPAL_TZ),
    ) -> None:
        self._core = core
        self._clock = clock
        self._wall = wall
        self._schedule = Schedule(options.stream_share * options.rate_per_token, clock=clock)
        self._logs: dict[FeedKey, FeedLog] = {}
        self._errors: dict[FeedKey, str] = {}
        self._market = MarketState(None)
        self._news = asyncio.Event()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[None]] = set()
        self._closed = False

    # ---------------------------------------------------------------- subscribers

    async def fetch(
        self, key: FeedKey, subscriber: str, cursor: Cursor | None, known: bool | None, wait: float
    ) -> Delivery:
        """The ticks after ``cursor`` for ``subscriber`` of ``key`` (a snapshot when it has none), as soon as there
        are some or the market's state differs from ``known`` (what the subscriber last saw), else none after
        ``wait`` seconds. Subscribes it first if it is not (again, after the coordinator restarted)."""
        deadline = self._clock() + min(wait, MAX_WAIT)
        while True:
            if self._closed:
                raise PoolShutdownError()
            if self._schedule.touch(key, subscriber):
                self._logs.setdefault(key, FeedLog(key, generation=secrets.randbits(48)))
                self._start()
            feed = self._logs[key]
            ticks = feed.read(cursor)
            left = deadline - self._clock()
            if ticks or self._market.open != known or left <= 0:
                after = feed.cursor() if ticks else cursor
                return Delivery(tuple(ticks), after, self._market, feed.polls, self._errors.get(key))
            news = self._news
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(news.wait(), left)

    def leave(self, key: FeedKey, subscriber: str) -> None:
        """``subscriber`` closed its stream of ``key``."""
        self._schedule.leave(key, subscriber)
        if key not in self._schedule.feeds:
            self._drop(key)

    async def close(self) -> None:
        """Stop polling and fail every waiting fetch with :class:`PoolShutdownError` (the pool is shutting down)."""
        self._closed = True
        self._announce()
        for task in [*self._requests, *([self._runner] if self._runner else [])]:
            task.cancel()
        await asyncio.gather(*self._requests, *([self._runner] if self._runner else []), return_exceptions=True)

    # ---------------------------------------------------------------- the schedule's loop

    def _start(self) -> None:
        """Run the loop (again, once a feed appears after it ended for want of any) and let it re-plan now."""
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())
        self._wake.set()

    async def _run(self) -> None:
        while not self._closed:
            for key in self._schedule.expire():
                self._drop(key)
            for action in self._schedule.start(bulk_busy=self._core.bulk_load() > 0):
                task = asyncio.get_running_loop().create_task(self._send(action))
                self._requests.add(task)
                task.add_done_callback(self._requests.discard)
            wake_at = self._schedule.wake_at()
            if wake_at is None:
                return
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.0, wake_at - self._clock()))

    async def _send(self, action: Action) -> None:
        try:
            if action.key is None:
                await self._check_market()
            else:
                await self._poll(action.key)
        finally:
            self._wake.set()

    async def _check_market(self) -> None:
        try:
            answer = await self._request("market_open", {})
            is_open = MarketOpen.model_validate_json(answer.body).is_open.upper() == "OPEN"
        except NepseError as error:
            self._schedule.market_failed()
            self._market = MarketState(self._market.open, self._market.opens_at, f"{type(error).__name__}: {error}")
            log.warning("streams: the market-open check failed (%s); trying again", type(error).__name__)
        else:
            now = self._wall()
            recheck = recheck_after(now, is_open)
            self._schedule.market_answered(is_open=is_open, recheck_in=recheck)
            self._market = MarketState(is_open, None if is_open else now + dt.timedelta(seconds=recheck))
        self._announce()

    async def _poll(self, key: FeedKey) -> None:
        name, params = key.request()
        try:
            answer = await self._request(name, params)
            rows = key.feed.rows(json.loads(answer.body))
        except (NepseError, ValueError) as error:  # ValueError: rows the feed cannot read (pydantic's, json's)
            self._errors[key] = f"{type(error).__name__}: {error}"
            log.warning("streams: a poll of %s failed (%s)", key, type(error).__name__)
            return
        finally:
            self._schedule.polled(key)
        self._errors.pop(key, None)
        feed = self._logs.get(key)
        if feed is not None and feed.record(rows, self._wall()):
            self._announce()

    async def _request(self, name: str, params: dict[str, int]) -> Wire:
        request = PoolRequest.checked(name, params, lane="interactive", form="raw", caller=STREAM_CALLER)
        answer: Wire = await self._core.call(request)
        return answer

    def _drop(self, key: FeedKey) -> None:
        self._logs.pop(key, None)
        self._errors.pop(key, None)

    def _announce(self) -> None:
        """Wake every waiting fetch (each re-reads its feed)."""
        self._news.set()
        self._news = asyncio.Event()
