"""NEPSE's trading hours: 11:00 to 15:00 Nepal time, Sunday to Thursday.

The clock only says when the market *may* be open; the site's market-open answer says whether it is (a public
holiday is a weekday without a session). These functions answer the clock's part: whether a moment falls in the
session, and when the next session starts, so a caller knows when asking the site again is worth a request.

>>> monday_noon = dt.datetime(2026, 11, 30, 12, 0, tzinfo=NEPAL_TZ)
>>> in_session(monday_noon), next_session_start(monday_noon).isoformat()
(True, '2026-12-01T11:00:00+05:45')
>>> friday = dt.datetime(2026, 12, 4, 9, 0, tzinfo=NEPAL_TZ)
>>> in_session(friday), next_session_start(friday).isoformat()
(False, '2026-12-06T11:00:00+05:45')
"""

from __future__ import annotations

import datetime as dt

from .payload import NEPAL_TZ

SESSION_OPEN = dt.time(11, 0)
SESSION_CLOSE = dt.time(15, 0)
#: Sunday .. Thursday (Python's Monday is 0).
TRADING_WEEKDAYS = frozenset({6, 0, 1, 2, 3})


def is_trading_day(day: dt.date) -> bool:
    return day.weekday() in TRADING_WEEKDAYS


def in_session(now: dt.datetime) -> bool:
    """Whether ``now`` (any zone) falls within a trading day's 11:00-15:00 in Nepal."""
    local = now.astimezone(NEPAL_TZ)
    return is_trading_day(local.date()) and SESSION_OPEN <= local.time() < SESSION_CLOSE


def next_session_start(now: dt.datetime) -> dt.datetime:
    """The start (11:00 Nepal time) of the first trading day's session that begins after ``now``."""
    local = now.astimezone(NEPAL_TZ)
    day = local.date()
    if local.time() >= SESSION_OPEN:
        day += dt.timedelta(days=1)
    while not is_trading_day(day):
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, SESSION_OPEN, NEPAL_TZ)
