"""The streams' schedule on a fake clock: one poll per feed and interval whatever the subscribers, the site's
market-open answer first, the budget while bulk work runs, silent subscribers dropped."""

from __future__ import annotations

import datetime as dt

import pytest
from nepse_fakes import FakeClock

from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.pool.schedule import (
    CLOSED_RECHECK,
    FAILED_RECHECK,
    OPEN_RECHECK,
    Action,
    Schedule,
    recheck_after,
    silence,
)
from nepse_ray.stream import FeedKey, feed_key

LIVE = feed_key("live_market", 1.0)
INDEX = feed_key("nepse_index", 5.0)


def opened(clock: FakeClock, budget: float = 0.5) -> Schedule:
    schedule = Schedule(budget, clock=clock)
    schedule.touch(LIVE, "a")
    assert schedule.start(bulk_busy=False) == [Action("market")]
    schedule.market_answered(is_open=True, recheck_in=OPEN_RECHECK)
    return schedule


def run(
    schedule: Schedule, clock: FakeClock, seconds: float, *, busy: bool = False, step: float = 0.05
) -> list[FeedKey]:
    """Drive the schedule for ``seconds`` as the hub does (every answer at once); the feeds polled, in order."""
    polled: list[FeedKey] = []
    end = clock.now + seconds
    while clock.now < end:
        for action in schedule.start(bulk_busy=busy):
            if action.kind == "market":
                schedule.market_answered(is_open=True, recheck_in=OPEN_RECHECK)
            else:
                assert action.key is not None
                polled.append(action.key)
                schedule.polled(action.key)
        clock.advance(step)
        for key in list(schedule.feeds):  # the subscribers keep fetching
            schedule.touch(key, "a")
    return polled


def test_every_subscriber_of_a_feed_shares_one_poll_per_interval() -> None:
    clock = FakeClock()
    schedule = opened(clock)
    for subscriber in ("b", "c", "d"):
        assert schedule.touch(LIVE, subscriber)
    assert not schedule.touch(LIVE, "b")  # fetching again is not joining again

    polled = run(schedule, clock, 10.0)

    assert polled.count(LIVE) == 10 and schedule.subscribers(LIVE) == 4


def test_feeds_of_other_intervals_or_targets_are_polled_apart_each_at_its_own_pace() -> None:
    clock = FakeClock()
    schedule = opened(clock)
    schedule.touch(INDEX, "a")
    depth = feed_key("market_depth", 2.0, security_id=131)
    schedule.touch(depth, "a")

    polled = run(schedule, clock, 10.0)

    assert (polled.count(LIVE), polled.count(INDEX), polled.count(depth)) == (10, 2, 5)


def test_a_poll_in_flight_is_never_doubled_and_after_a_slow_one_the_cadence_starts_again_without_a_burst() -> None:
    clock = FakeClock()
    schedule = opened(clock)
    assert schedule.start(bulk_busy=False) == [Action("poll", LIVE)]
    clock.advance(3.5)  # the answer takes three and a half intervals
    assert schedule.start(bulk_busy=False) == []
    schedule.polled(LIVE)

    assert schedule.start(bulk_busy=False) == [Action("poll", LIVE)]  # due since the last poll started
    schedule.polled(LIVE)
    assert schedule.wake_at() == pytest.approx(clock.now + 1.0)  # then one interval on, not three to catch up
    assert run(schedule, clock, 10.0).count(LIVE) in (9, 10)  # at +1 .. +9 (+10 at the window's edge)


def test_nothing_is_polled_before_the_sites_answer_nor_while_it_says_closed() -> None:
    clock = FakeClock()
    schedule = Schedule(0.5, clock=clock)
    schedule.touch(LIVE, "a")
    assert schedule.start(bulk_busy=False) == [Action("market")]
    assert schedule.start(bulk_busy=False) == []  # one check at a time, no poll meanwhile
    schedule.market_answered(is_open=False, recheck_in=3600.0)

    assert run(schedule, clock, 30.0) == []
    clock.advance(3600.0 - 30.0)
    schedule.touch(LIVE, "a")
    assert schedule.start(bulk_busy=False) == [Action("market")]  # asked again when the session starts


def test_a_failed_market_check_is_tried_again_and_an_open_market_keeps_being_polled_meanwhile() -> None:
    clock = FakeClock()
    schedule = opened(clock)
    clock.advance(OPEN_RECHECK)
    actions = schedule.start(bulk_busy=False)
    assert actions == [Action("market"), Action("poll", LIVE)]
    schedule.market_failed()
    schedule.polled(LIVE)

    assert schedule.market_open is True
    clock.advance(FAILED_RECHECK)
    assert Action("market") in schedule.start(bulk_busy=False)


def test_while_bulk_work_runs_the_streams_keep_to_their_share_and_use_their_intervals_again_after() -> None:
    clock = FakeClock()
    schedule = opened(clock, budget=0.5)  # a quarter of a 2 requests/s token
    schedule.touch(INDEX, "a")

    busy = run(schedule, clock, 40.0, busy=True)
    idle = run(schedule, clock, 40.0, busy=False)

    assert len(busy) == pytest.approx(40 * 0.5, abs=1)  # market checks take permits too: at most 20 polls
    assert busy.count(INDEX) >= 3  # both feeds get their turns
    assert idle.count(LIVE) == 40 and idle.count(INDEX) in (8, 9)  # 9 when one was due as the bulk work ended


def test_a_throttled_schedule_wakes_when_the_next_permit_is_due() -> None:
    clock = FakeClock()
    schedule = opened(clock, budget=0.25)
    assert schedule.start(bulk_busy=True) == [Action("poll", LIVE)]
    schedule.polled(LIVE)
    clock.advance(1.0)
    assert schedule.start(bulk_busy=True) == []

    assert schedule.wake_at() == pytest.approx(clock.now + 3.0)


def test_silent_subscribers_are_dropped_and_a_feed_without_any_stops() -> None:
    clock = FakeClock()
    schedule = opened(clock)
    schedule.touch(INDEX, "b")
    clock.advance(silence(1.0) - 1)
    schedule.touch(LIVE, "a")
    clock.advance(2)

    assert schedule.expire() == [INDEX]
    assert schedule.feeds == [LIVE]
    schedule.leave(LIVE, "a")
    assert schedule.feeds == [] and schedule.start(bulk_busy=False) == [] and schedule.wake_at() is None
    assert silence(60.0) == 300.0


def test_the_market_is_asked_again_in_a_minute_while_open_at_the_next_session_when_closed() -> None:
    thursday_close = dt.datetime(2026, 12, 3, 15, 30, tzinfo=NEPAL_TZ)
    in_session = dt.datetime(2026, 12, 1, 11, 10, tzinfo=NEPAL_TZ)

    assert recheck_after(in_session, True) == OPEN_RECHECK
    assert recheck_after(in_session, False) == CLOSED_RECHECK  # a late start or a holiday: ask now and then
    sunday_open = dt.datetime(2026, 12, 6, 11, 0, tzinfo=NEPAL_TZ)
    assert recheck_after(thursday_close, False) == (sunday_open - thursday_close).total_seconds()
