"""The subscriber's iterator without Ray: it follows its cursor, yields what each delivery holds, says when the
market opens or closes, ends at the close with ``until_close``, and leaves the feed when it ends."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.pool.subscription import Stream
from nepse_ray.stream import Cursor, Delivery, MarketState, Tick, feed_key

KEY = feed_key("nepse_index", 5.0)
AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=NEPAL_TZ)
OPEN = MarketState(True)
CLOSED = MarketState(False, dt.datetime(2026, 12, 1, 11, 0, tzinfo=NEPAL_TZ))


def tick(seq: int, snapshot: bool = False) -> Tick:
    return Tick("nepse_index", None, seq, AT, ({"id": 58, "close": float(seq)},), snapshot=snapshot)


class FakeCoordinator:
    """Answers each fetch with the next delivery, and records what the stream sent."""

    def __init__(self, deliveries: list[Delivery]) -> None:
        self.deliveries: Iterator[Delivery] = iter(deliveries)
        self.fetches: list[tuple[Any, ...]] = []
        self.left: list[tuple[Any, ...]] = []
        self.stream_fetch = Method(self.fetch)
        self.stream_leave = Method(self.left.append)

    def fetch(self, args: tuple[Any, ...]) -> Delivery:
        self.fetches.append(args)
        return next(self.deliveries)


class Method:
    """An actor method's ``.remote``: the call made at once, its answer returned (``_resolve`` passes it on)."""

    def __init__(self, call: Callable[[tuple[Any, ...]], Any]) -> None:
        self.call = call

    def remote(self, *args: Any) -> Any:
        return self.call(args)


class FakeLog:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.log = self.warn = self.lines.append


class FakeAPI:
    closed = False

    def __init__(self, deliveries: list[Delivery]) -> None:
        self._coordinator = FakeCoordinator(deliveries)
        self._log = FakeLog()

    def _resolve(self, value: Any) -> Any:
        return value

    async def _resolve_async(self, value: Any) -> Any:
        return value


def stream(deliveries: list[Delivery], until_close: bool = False) -> tuple[Stream, FakeAPI]:
    api = FakeAPI(deliveries)
    return Stream(api, KEY, until_close=until_close), api  # type: ignore[arg-type]


def test_it_yields_each_deliverys_ticks_and_fetches_from_where_the_last_one_left_it() -> None:
    deliveries = [
        Delivery((tick(3, snapshot=True),), Cursor(9, 3), OPEN, polls=3),
        Delivery((), Cursor(9, 3), OPEN, polls=4),  # a long poll that came back empty
        Delivery((tick(4), tick(5)), Cursor(9, 5), OPEN, polls=5),
    ]
    subscription, api = stream(deliveries)

    ticks = [t.seq for _, t in zip(range(3), subscription, strict=False)]

    assert ticks == [3, 4, 5] and subscription.polls == 5
    cursors = [fetch[2] for fetch in api._coordinator.fetches]
    assert cursors == [None, Cursor(9, 3), Cursor(9, 3)]
    assert [fetch[3] for fetch in api._coordinator.fetches] == [None, True, True]  # the market as last seen
    assert api._coordinator.left == [(KEY, api._coordinator.fetches[0][1])]  # leaving the loop ends it
    assert api._log.lines == ["stream nepse_index every 5 s: the market is open"]


def test_until_close_ends_at_the_close_after_the_last_ticks_and_a_closed_day_yields_nothing() -> None:
    closing, _ = stream(
        [Delivery((tick(1, True),), Cursor(1, 1), OPEN), Delivery((tick(2),), Cursor(1, 2), CLOSED)], True
    )
    closed, api = stream([Delivery((), None, CLOSED)], until_close=True)

    assert [t.seq for t in closing] == [1, 2]
    assert list(closed) == [] and closed.market == CLOSED
    assert api._log.lines == [
        "stream nepse_index every 5 s: the market is closed; it opens at 2026-12-01 11:00 Nepal time; the stream ends"
    ]


def test_without_until_close_a_closed_market_is_waited_for_and_said_once() -> None:
    deliveries = [Delivery((), None, CLOSED)] * 3 + [Delivery((tick(1, True),), Cursor(1, 1), OPEN)]
    subscription, api = stream(deliveries)

    assert next(iter(subscription)).seq == 1
    assert api._log.lines == [
        "stream nepse_index every 5 s: the market is closed; it opens at 2026-12-01 11:00 Nepal time; waiting",
        "stream nepse_index every 5 s: the market is open",
    ]


def test_async_for_gives_the_same_ticks_and_a_failed_poll_is_said_once() -> None:
    failed = "NepseServerError: nepse_index: HTTP 502"
    deliveries = [
        Delivery((tick(1, True),), Cursor(1, 1), OPEN, error=failed),
        Delivery((), Cursor(1, 1), OPEN, error=failed),
        Delivery((tick(2),), Cursor(1, 2), OPEN),
    ]
    subscription, api = stream(deliveries)

    async def first_two() -> list[int]:
        seqs = []
        async for received in subscription:
            seqs.append(received.seq)
            if len(seqs) == 2:
                break
        return seqs

    assert asyncio.run(first_two()) == [1, 2]
    assert subscription.error is None
    assert api._log.lines.count(f"stream nepse_index every 5 s: the last poll failed ({failed}); polling on") == 1
