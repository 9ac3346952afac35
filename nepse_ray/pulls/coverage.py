"""Which rows of a paged listing have arrived, counted in the order the listing had when the pull started.

A pull reads page 0 first; its ``totalElements`` is the number of rows the pull promises, ``expected``. The
rows are then numbered by their *rank* in that starting order. Most listings do not move while they are pulled,
so a row's rank is its position, ``page * size + j``. A live floorsheet does move: it is sorted by contract id,
newest first, new trades only arrive on top, and every page answer carries its own ``totalElements``. So a page
read when the total had grown by ``shift = total_now - expected`` starts at rank ``page * size - shift``: rows of
negative rank are trades newer than the pull, and the ranks nobody delivered say exactly which pages to read
again, at the shift seen last.

A pull may also own only some of those ranks, ``ranks``: a Ray Data read task reads one part of a day, planned on
the driver from a page 0 it read there (:mod:`nepse_ray.data`). Rows outside the part are left to the other parts.

>>> coverage = Coverage(expected=10, size=4, drift=True)
>>> coverage.first_rank(page=0, total_now=10), coverage.first_rank(page=1, total_now=12)
(0, 2)
>>> coverage.cover(0, 4); coverage.cover(2, 4)
4
2
>>> coverage.missing(), coverage.pages_to_fetch()
(4, [2])
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Coverage:
    """The ranks ``ranks`` (default ``0 .. expected - 1``) of one listing of ``expected`` rows at the start, each
    either delivered or still missing.

    >>> part = Coverage(expected=10, size=4, drift=False, ranks=range(4, 7))
    >>> part.pages, part.pages_to_fetch(), part.cover(first=4, count=4), part.missing()
    (1, [1], 3, 0)
    """

    __slots__ = ("_answered", "_covered", "drift", "expected", "latest_total", "ranks", "round_start_total", "size")

    def __init__(self, expected: int, size: int, drift: bool, ranks: range | None = None) -> None:
        self.ranks = range(expected) if ranks is None else ranks
        if not 0 <= self.ranks.start <= self.ranks.stop <= expected or self.ranks.step != 1:
            raise ValueError(f"ranks {self.ranks} are not a part of a listing of {expected} rows")
        self.expected = expected
        self.size = size
        self.drift = drift
        self.latest_total = expected
        self.round_start_total = expected
        self._answered = False
        self._covered = np.zeros(len(self.ranks), dtype=bool)

    @property
    def wanted(self) -> int:
        """Rows this coverage is for: all ``expected``, or those of its part."""
        return len(self.ranks)

    @property
    def pages(self) -> int:
        """Pages that held the wanted ranks at the start."""
        if not self.ranks:
            return 0
        return -(-self.ranks.stop // self.size) - self.ranks.start // self.size

    def first_rank(self, page: int, total_now: int) -> int:
        """The starting-order rank of the first row of ``page`` read while the listing held ``total_now`` rows."""
        if not self.drift:
            return page * self.size
        if not self._answered:  # a part may start long after its page 0: its first round grows from here
            self._answered = True
            self.round_start_total = total_now
        self.latest_total = max(self.latest_total, total_now)
        return page * self.size - (total_now - self.expected)

    def in_listing(self, first: int, count: int) -> npt.NDArray[np.bool_]:
        """True for the rows this coverage wants (False: arrived after the pull started, or another part's)."""
        ranks = np.arange(first, first + count)
        return (ranks >= self.ranks.start) & (ranks < self.ranks.stop)

    def cover(self, first: int, count: int) -> int:
        """Mark ranks ``first .. first + count - 1`` delivered; returns how many of the wanted ones were new."""
        start, stop = self.ranks.start, self.ranks.stop
        low, high = max(first, start) - start, min(first + count, stop) - start
        if high <= low:
            return 0
        before = int(np.count_nonzero(self._covered[low:high]))
        self._covered[low:high] = True
        return high - low - before

    def next_round(self) -> list[int]:
        """The pages the next round reads: the missing ranks, looking ahead by the growth seen this round."""
        pages = self.pages_to_fetch(lookahead=self.latest_total - self.round_start_total)
        self.round_start_total = self.latest_total
        return pages

    def missing(self) -> int:
        return self.wanted - int(np.count_nonzero(self._covered))

    def pages_to_fetch(self, lookahead: int = 0) -> list[int]:
        """The pages that hold the missing ranks, judged by the latest total seen.

        ``lookahead`` rows: how much the listing may still grow before the pages are read (a live floorsheet
        keeps growing while they are asked for), so each missing rank's page at the latest total and at
        ``lookahead`` more rows are both read.
        """
        shift = self.latest_total - self.expected if self.drift else 0
        missing = np.flatnonzero(~self._covered) + self.ranks.start + shift
        if not self.drift or lookahead <= 0:
            return [int(p) for p in np.unique(missing // self.size)]
        return [int(p) for p in np.unique(np.concatenate([missing // self.size, (missing + lookahead) // self.size]))]
