"""What a sync fetches, and what the rows that came back prove: pure functions of the manifest, the site's day and
those rows, without I/O.

The rules, in order:

1. **The site's day.** ``asOf`` of market-open is the site's day; while the market is open the last final day is
   the one before. A day later than this machine's date (Nepal time) plus one is refused: a wrong clock or a
   hostile server would otherwise plan years of pulls into the future.
2. **A bounded plan.** At most :data:`MAX_SYNC_DAYS` trading days from ``since`` to the site's day in one sync.
3. **Days.** A trading day (Sunday to Thursday) is fetched when the manifest has no entry for it, or when it was
   unavailable, asked on an earlier site day, fewer than :data:`MAX_DAY_ATTEMPTS` times (``retry_unavailable``
   asks again regardless). A day is complete only when every row its listing returned carries that date.
4. **History.** Each series (a symbol, an index) is fetched for the days between ``since`` and the last final day
   it neither covers nor knows unavailable. The site serves about the last year of a security's history whatever
   the dates asked (:data:`HISTORY_WINDOW`): within that window an answer is trusted as it is (no row = no trade);
   before it, only the days from the first row returned are covered, and the days before that are recorded
   unavailable, with the reason, and not asked again unless ``retry_unavailable``.

>>> d = dt.date.fromisoformat
>>> history_outcome((d("2021-01-01"), d("2026-11-30")), [d("2025-12-01"), d("2026-11-30")], d("2025-11-30"))[0]
(datetime.date(2025, 11, 30), datetime.date(2026, 11, 30))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

from ..nepse.errors import NepseInputError, NepseInvalidResponseError
from ..nepse.hours import TRADING_WEEKDAYS
from . import ranges
from .manifest import DayEntry, Gap, TableState
from .ranges import Range

#: How often a day the site did not serve is asked again, on later site days.
MAX_DAY_ATTEMPTS = 3
#: How far back the site serves a security's daily history (observed: about a year, whatever startDate says).
HISTORY_WINDOW = dt.timedelta(days=365)
#: The most trading days one sync plans (about 16 years): more is a mistake or a hostile server's day.
MAX_SYNC_DAYS = 4_000
WINDOW_REASON = "the site serves about the last year of history; it returned nothing older"


@dataclasses.dataclass(frozen=True)
class SiteDay:
    """The site's day, and the last day whose data is final (the day before while the market is open)."""

    today: dt.date
    final: dt.date

    @classmethod
    def of(cls, as_of: dt.datetime, is_open: str, local_today: dt.date) -> SiteDay:
        today = as_of.date()
        if today > local_today + dt.timedelta(days=1):
            raise NepseInvalidResponseError(
                f"the site says its day is {today}, after this machine's date {local_today} (Nepal time); a sync "
                "plans nothing past today. Check this machine's clock and the base URL",
                endpoint="market_open",
                retryable=False,
            )
        final = today - dt.timedelta(days=1) if is_open.upper() == "OPEN" else today
        return cls(today, final)


def trading_days(first: dt.date, last: dt.date) -> list[dt.date]:
    """Sunday..Thursday days from ``first`` to ``last``, oldest first."""
    count = (last - first).days + 1
    days = (first + dt.timedelta(days=n) for n in range(max(count, 0)))
    return [day for day in days if day.weekday() in TRADING_WEEKDAYS]


def check_span(since: dt.date, final: dt.date) -> None:
    """Refuse a plan of more than :data:`MAX_SYNC_DAYS` trading days."""
    weeks, rest = divmod((final - since).days + 1, 7)
    days = weeks * 5 + len(trading_days(since, since + dt.timedelta(days=rest - 1)))
    if days > MAX_SYNC_DAYS:
        raise NepseInputError(
            f"a sync from {since} to {final} would plan {days:,} trading days, more than {MAX_SYNC_DAYS:,}; "
            "choose a later --since, or sync in steps"
        )


def days_to_fetch(state: TableState, days: Iterable[dt.date], today: dt.date, retry_unavailable: bool) -> list[dt.date]:
    """The ``days`` a *days* table still needs (rule 3)."""
    return [day for day in days if _wanted(state.days.get(day), today, retry_unavailable)]


def _wanted(entry: DayEntry | None, today: dt.date, retry_unavailable: bool) -> bool:
    if entry is None:
        return True
    if entry.status == "complete":
        return False
    if retry_unavailable:
        return True
    return entry.attempts < MAX_DAY_ATTEMPTS and (entry.tried is None or entry.tried < today)


def unavailable_day(previous: DayEntry | None, today: dt.date, reason: str) -> DayEntry:
    attempts = previous.attempts if previous is not None and previous.status == "unavailable" else 0
    return DayEntry(status="unavailable", attempts=attempts + 1, tried=today, reason=reason)


def day_problem(day: dt.date, dates: Sequence[dt.date]) -> str | None:
    """Why a day's listing does not make the day complete (no rows, or rows of other days), or None."""
    if not dates:
        return "the site returned no rows for it"
    foreign = sorted({d for d in dates if d != day})
    if foreign:
        shown = ", ".join(d.isoformat() for d in foreign[:3])
        return f"the site answered with rows of {shown}, not of {day}"
    return None


def history_gaps(
    state: TableState, keys: Iterable[str], since: dt.date, final: dt.date, retry_unavailable: bool
) -> dict[str, list[Range]]:
    """For each series of ``keys``, the days between ``since`` and ``final`` still to fetch (rule 4)."""
    gaps = {}
    for key in keys:
        entry = state.series.get(key)
        known: list[Range] = []
        if entry is not None:
            known = [*entry.covered, *([] if retry_unavailable else [(a, b) for a, b, _ in entry.unavailable])]
        missing = ranges.subtract([(since, final)], known)
        if missing:
            gaps[key] = missing
    return gaps


def history_outcome(asked: Range, dates: Sequence[dt.date], window_start: dt.date) -> tuple[Range | None, Gap | None]:
    """What one series' answer for the days ``asked`` proves: the days covered, and the days unavailable."""
    first, last = asked
    earliest = min(dates, default=None)
    start = window_start if earliest is None else min(earliest, window_start)
    start = max(start, first)
    covered = (start, last) if start <= last else None
    gap = (first, min(start, last + dt.timedelta(days=1)) - dt.timedelta(days=1), WINDOW_REASON)
    return covered, (gap if gap[0] <= gap[1] else None)


def group_gaps(found: Iterable[tuple[str, Gap]]) -> list[str]:
    """``(series, gap)`` pairs as one line per distinct gap: ``2021-01-01 .. 2025-11-29 for NABIL, NICA: reason``."""
    by_gap: dict[Gap, list[str]] = {}
    for key, gap in found:
        by_gap.setdefault(gap, []).append(key)
    lines = []
    for (first, last, why), keys in sorted(by_gap.items()):
        named = ", ".join(sorted(keys)[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
        lines.append(f"{first} .. {last} for {named}: {why}")
    return lines
