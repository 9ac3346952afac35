"""The live streams' schedule: which feeds are polled, when, who subscribes, and how much of the site's budget the
polls may take. Pure: no Ray, no asyncio, time only from the clock passed in.

The coordinator's stream hub (``hub.py``) tells the schedule who fetched what (:meth:`Schedule.touch`) and asks it
what to send now (:meth:`Schedule.start`) and when to ask again (:meth:`Schedule.wake_at`)::

    >>> from nepse_ray.stream.feeds import feed_key
    >>> now = [0.0]
    >>> schedule = Schedule(budget_rate=0.5, clock=lambda: now[0])
    >>> key = feed_key("live_market", 5.0)
    >>> schedule.touch(key, "notebook-1"), schedule.touch(key, "notebook-2")
    (True, True)
    >>> schedule.start(bulk_busy=False)                  # first, whether the market is open
    [Action(kind='market', key=None)]
    >>> schedule.market_answered(is_open=True, recheck_in=60.0)
    >>> schedule.start(bulk_busy=False)                  # one poll for both subscribers
    [Action(kind='poll', key=FeedKey(name='live_market', target=None, interval=5.0))]
    >>> schedule.polled(key); schedule.wake_at()
    5.0

Rules:

1. **One poll per feed and interval.** Subscribers of the same :class:`~nepse_ray.stream.feeds.FeedKey` share
   its polls; a feed is polled at most once per interval and never twice at once. A poll late by less than an
   interval keeps the cadence; one later than that starts a new one, so a feed never catches up in a burst.
2. **The site says whether the market is open.** Nothing is polled before the first market-open answer, nor while
   the last one said closed. The answer is asked again ``recheck_in`` seconds later (:func:`recheck_after`: a
   minute while open; while closed, at the next session's start, or every five minutes if the site says closed
   within session hours).
3. **A share of one token's budget.** While bulk work runs (``bulk_busy``), every request the schedule starts
   (polls and market checks) takes a permit from a bucket of ``budget_rate`` permits a second (burst 1), so the
   streams leave the bulk work the rest of the pool's rate; when it waits for a permit, :meth:`wake_at` says when
   the next one is due. With no bulk work, polls keep their intervals.
4. **Silent subscribers leave.** A subscriber that has not fetched for :func:`silence` seconds is dropped, and a
   feed without subscribers stops being polled (:meth:`Schedule.expire`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from typing import Literal, NamedTuple

from nepse_ray.nepse import hours
from nepse_ray.nepse.ratelimit import TokenBucket
from nepse_ray.stream.feeds import FeedKey

#: Seconds between two market-open checks while the site says open.
OPEN_RECHECK = 60.0
#: Seconds between two market-open checks while the site says closed within session hours (a late start).
CLOSED_RECHECK = 300.0
#: Seconds before a failed market-open check is tried again.
FAILED_RECHECK = 5.0
#: The least time a subscriber may stay silent before it is dropped (longer for long intervals: see :func:`silence`).
SILENCE = 60.0


class Action(NamedTuple):
    """A request to send now: the market-open check, or a poll of ``key``."""

    kind: Literal["market", "poll"]
    key: FeedKey | None = None


def silence(interval: float) -> float:
    """Seconds a subscriber of a feed at ``interval`` may go without fetching before it is dropped."""
    return max(SILENCE, 5 * interval)


def recheck_after(now: dt.datetime, is_open: bool) -> float:
    """Seconds until the market-open answer is worth asking again, given that the site said ``is_open`` at ``now``."""
    if is_open:
        return OPEN_RECHECK
    if hours.in_session(now):
        return CLOSED_RECHECK
    return max((hours.next_session_start(now) - now).total_seconds(), OPEN_RECHECK)


@dataclasses.dataclass(slots=True)
class _Plan:
    due: float
    subscribers: dict[str, float]
    polling: bool = False
    started: float = 0.0


class Schedule:
    """Feeds, subscribers, market checks and the streams' budget (rules in the module docstring)."""

    __slots__ = ("_budget", "_checking", "_clock", "_next_check", "_plans", "_throttled", "market_open")

    def __init__(self, budget_rate: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._budget = TokenBucket(budget_rate, 1, clock=clock)
        self._plans: dict[FeedKey, _Plan] = {}
        self.market_open: bool | None = None
        self._next_check = clock()
        self._checking = False
        self._throttled = False

    # ---------------------------------------------------------------- subscribers

    def touch(self, key: FeedKey, subscriber: str) -> bool:
        """``subscriber`` fetched ``key`` now; True when it was not subscribed to it (a new feed is due at once)."""
        now = self._clock()
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plans[key] = _Plan(due=now, subscribers={})
        new = subscriber not in plan.subscribers
        plan.subscribers[subscriber] = now
        return new

    def leave(self, key: FeedKey, subscriber: str) -> None:
        """``subscriber`` closed its stream of ``key``; the feed stops when it was the last."""
        plan = self._plans.get(key)
        if plan is not None:
            plan.subscribers.pop(subscriber, None)
            if not plan.subscribers:
                del self._plans[key]

    def expire(self) -> list[FeedKey]:
        """Drop the subscribers silent for too long; the feeds left without any, which stop being polled."""
        now = self._clock()
        dropped = []
        for key, plan in list(self._plans.items()):
            limit = silence(key.interval)
            plan.subscribers = {s: seen for s, seen in plan.subscribers.items() if now - seen <= limit}
            if not plan.subscribers:
                del self._plans[key]
                dropped.append(key)
        return dropped

    def subscribers(self, key: FeedKey) -> int:
        plan = self._plans.get(key)
        return len(plan.subscribers) if plan is not None else 0

    @property
    def feeds(self) -> list[FeedKey]:
        return list(self._plans)

    # ---------------------------------------------------------------- the market

    def market_answered(self, *, is_open: bool, recheck_in: float) -> None:
        """The market-open check answered ``is_open``; ask again in ``recheck_in`` seconds."""
        self.market_open = is_open
        self._checking = False
        self._next_check = self._clock() + recheck_in

    def market_failed(self) -> None:
        """The market-open check failed; it is tried again in :data:`FAILED_RECHECK` seconds (the market's state
        stays what it was)."""
        self._checking = False
        self._next_check = self._clock() + FAILED_RECHECK

    # ---------------------------------------------------------------- polls

    def start(self, *, bulk_busy: bool) -> list[Action]:
        """The requests to send now, each marked in flight until :meth:`polled` or a market answer."""
        now = self._clock()
        self._throttled = False
        actions: list[Action] = []
        if not self._plans:
            return actions
        if not self._checking and now >= self._next_check:
            if not self._permit(bulk_busy):
                return actions
            self._checking = True
            actions.append(Action("market"))
        if self.market_open is not True:
            return actions
        for key, plan in sorted(self._plans.items(), key=lambda item: item[1].due):
            if plan.polling or plan.due > now:
                continue
            if not self._permit(bulk_busy):
                break
            plan.polling, plan.started = True, now
            actions.append(Action("poll", key))
        return actions

    def polled(self, key: FeedKey) -> None:
        """A poll of ``key`` ended (answered or failed): the next is due one interval after the last was due, or,
        when that one started more than an interval late, one interval after it started."""
        plan = self._plans.get(key)
        if plan is None:
            return
        plan.polling = False
        plan.due += key.interval
        if plan.due <= plan.started:
            plan.due = plan.started + key.interval

    def _permit(self, bulk_busy: bool) -> bool:
        if not bulk_busy or self._budget.try_acquire():
            return True
        self._throttled = True
        return False

    def wake_at(self) -> float | None:
        """When :meth:`start` may next have something to send, or a subscriber falls silent; None with no feeds."""
        if not self._plans:
            return None
        requests = [] if self._checking else [self._next_check]
        if self.market_open:
            requests.extend(plan.due for plan in self._plans.values() if not plan.polling)
        if requests and self._throttled:
            requests = [max(min(requests), self._budget.next_permit_at())]
        silent = (
            seen + silence(key.interval) for key, plan in self._plans.items() for seen in plan.subscribers.values()
        )
        return min([*requests, *silent])
