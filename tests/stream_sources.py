"""Ticks of a simulator's live market without Ray, for the recording tests: one ``NepseClient`` polls the feed and
its rows go through a :class:`~nepse_ray.stream.log.FeedLog` read at one cursor, the pure parts the coordinator's
hub uses, so a recording can run (and be killed) in a process that never starts Ray. :func:`served` is the truth
to compare a stream's view with: the live market the simulator served when its trades added up to that view."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from typing import Any

from nepse_ray.nepse.client import NepseClient, read_checked_body
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.sim import SimConfig
from nepse_ray.sim.live import LiveDay
from nepse_ray.sim.market import build_market
from nepse_ray.stream import FeedKey, FeedLog, Tick
from nepse_ray.stream.tick import Cursor

LIVE_MARKET = FeedKey("live_market", None, 1.0)


def polled(base_url: str, *, interval: float = 0.2, polls: int | None = None) -> Iterator[Tick]:
    """The live market's ticks from a poll every ``interval`` seconds (``polls`` of them, or until closed)."""
    log = FeedLog(LIVE_MARKET, generation=0)
    cursor: Cursor | None = None
    done = 0
    with NepseClient(base_url) as client:
        while polls is None or done < polls:
            body = client.fetch("live_market", {}, read_checked_body)
            log.record(LIVE_MARKET.feed.rows(json.loads(body)), dt.datetime.now(NEPAL_TZ))
            ticks, cursor = log.read(cursor), log.cursor()
            yield from ticks
            done += 1
            time.sleep(interval)


def served(config: SimConfig, business_date: dt.date, shares: int) -> list[dict[str, Any]]:
    """The live-market rows (the site's JSON objects) a simulator with ``config`` served on ``business_date`` when
    the trades visible added up to ``shares`` shares (the sum of ``totalTradeQuantity`` over a view of it)."""
    market = build_market(seed=config.seed, trades=config.trades, business_date=business_date, market_open=True,
                          live=config.live_capacity)  # fmt: skip
    total = 0
    for n, quantity in enumerate(market.trades.quantity, start=1):
        total += quantity
        if total == shares:
            day = LiveDay(market)
            day.advance(n)
            rows: list[dict[str, Any]] = json.loads(day.live_market())
            return rows
    raise AssertionError(f"no number of the simulator's trades adds up to {shares} shares")
