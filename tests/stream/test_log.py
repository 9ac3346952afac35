"""A poll's rows against the last state, and a feed's log read at each subscriber's cursor: every change once,
a snapshot to start, a resync for one that fell behind or comes from another generation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable

from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.stream import Cursor, FeedLog, Tick, feed_key
from nepse_ray.stream.diff import diff

AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=NEPAL_TZ)
KEY = feed_key("live_market", 1.0)


def row(security: int, price: float) -> dict[str, object]:
    return {"securityId": str(security), "symbol": f"S{security}", "lastTradedPrice": price}


def poll(log: FeedLog, *prices: float, second: int = 0) -> list[Tick]:
    return log.record([row(n, price) for n, price in enumerate(prices)], AT + dt.timedelta(seconds=second))


def test_a_row_changed_is_new_or_different_and_a_missing_key_is_removed() -> None:
    before: dict[Hashable, dict[str, object]] = {0: row(0, 10.0), 1: row(1, 20.0), 2: row(2, 30.0)}
    change = diff(before, [row(2, 30.0), row(1, 21.0), row(3, 5.0)], lambda r: int(str(r["securityId"])))

    assert change.changed == [row(1, 21.0), row(3, 5.0)]  # the site's order; row 2 is as it was
    assert change.removed == [0]
    assert list(change.state) == [2, 1, 3]


def test_each_poll_that_changes_something_is_one_tick_of_the_changed_rows_only() -> None:
    log = FeedLog(KEY, generation=7)
    first = poll(log, 10.0, 20.0)
    same = poll(log, 10.0, 20.0, second=1)
    moved = poll(log, 10.0, 20.5, second=2)

    assert [t.rows for t in first] == [(row(0, 10.0), row(1, 20.0))]
    assert same == [] and log.polls == 3
    assert [(t.seq, t.rows, t.at.second) for t in moved] == [(2, (row(1, 20.5),), 2)]
    assert log.cursor() == Cursor(7, 2)


def test_subscribers_at_any_cursor_get_every_tick_after_it_once_and_again_when_they_ask_again() -> None:
    log = FeedLog(KEY, generation=1)
    for step in range(5):
        poll(log, 10.0 + step, second=step)

    start = log.read(None)
    assert [(t.seq, t.snapshot, t.resync) for t in start] == [(5, True, False)]
    assert [t.seq for t in log.read(Cursor(1, 2))] == [3, 4, 5]
    assert [t.seq for t in log.read(Cursor(1, 2))] == [3, 4, 5]  # an answer lost on the way is asked again
    assert log.read(Cursor(1, 5)) == []
    assert [t.rows[0]["lastTradedPrice"] for t in log.read(Cursor(1, 0))] == [10.0, 11.0, 12.0, 13.0, 14.0]


def test_a_snapshot_holds_every_row_as_of_the_last_tick() -> None:
    log = FeedLog(KEY, generation=1)
    poll(log, 10.0, 20.0, 30.0)
    poll(log, 10.0, 21.0)  # row 2 gone, row 1 moved

    (snapshot,) = log.read(None)
    assert snapshot.rows == (row(0, 10.0), row(1, 21.0)) and snapshot.seq == 2
    assert [t.removed for t in log.read(Cursor(1, 1))] == [(2,)]


def test_a_subscriber_behind_the_ring_or_from_another_generation_gets_a_resync_snapshot() -> None:
    log = FeedLog(KEY, generation=1, ring=3)
    for step in range(6):
        poll(log, float(step), second=step)

    assert [t.seq for t in log.read(Cursor(1, 3))] == [4, 5, 6]  # the ring's oldest still follows the cursor
    for cursor in (Cursor(1, 2), Cursor(2, 5), Cursor(1, 9)):
        (tick,) = log.read(cursor)
        assert (tick.snapshot, tick.resync, tick.seq, tick.rows) == (True, True, 6, (row(0, 5.0),))


def test_nothing_is_read_before_the_first_poll_and_an_empty_first_poll_is_a_state() -> None:
    log = FeedLog(KEY, generation=1)
    assert log.read(None) == []
    assert [len(t) for t in log.record([], AT)] == [0]  # the market has no trades yet: a state with no rows
    assert [(t.seq, len(t)) for t in log.read(None)] == [(1, 0)]
