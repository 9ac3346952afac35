"""Sets of calendar days as sorted, disjoint ranges ``(first, last)`` (both included): what a series covers.

>>> d = dt.date.fromisoformat
>>> covered = merge([(d("2026-01-01"), d("2026-01-10")), (d("2026-01-11"), d("2026-01-20"))])
>>> covered == [(d("2026-01-01"), d("2026-01-20"))]
True
>>> subtract([(d("2026-01-01"), d("2026-01-31"))], covered) == [(d("2026-01-21"), d("2026-01-31"))]
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

Range = tuple[dt.date, dt.date]
_DAY = dt.timedelta(days=1)


def merge(ranges: Iterable[Range]) -> list[Range]:
    """``ranges`` as the fewest sorted disjoint ranges: overlapping and touching ones joined, empty ones dropped."""
    merged: list[Range] = []
    for first, last in sorted(r for r in ranges if r[0] <= r[1]):
        if merged and first <= merged[-1][1] + _DAY:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return merged


def subtract(ranges: Iterable[Range], minus: Iterable[Range]) -> list[Range]:
    """The days of ``ranges`` that are in none of ``minus``."""
    left = merge(ranges)
    for cut_first, cut_last in merge(minus):
        kept: list[Range] = []
        for first, last in left:
            if cut_last < first or last < cut_first:
                kept.append((first, last))
                continue
            if first < cut_first:
                kept.append((first, cut_first - _DAY))
            if cut_last < last:
                kept.append((cut_last + _DAY, last))
        left = kept
    return left


def intersect(ranges: Iterable[Range], within: Range) -> list[Range]:
    """The days of ``ranges`` between ``within``'s first and last day."""
    first, last = within
    return merge((max(a, first), min(b, last)) for a, b in ranges)


def contains(ranges: Iterable[Range], day: dt.date) -> bool:
    return any(first <= day <= last for first, last in ranges)
