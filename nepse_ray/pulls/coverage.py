"""Which rows of a paged listing have arrived, counted by their rank in the listing, and which to keep.

A pull reads page 0 first; its ``totalElements`` is the number of rows the pull promises, ``expected``. The
rows are then numbered by their *rank*. Most listings hold still while they are pulled, so a row's rank is its
position, ``page * size + j``. A live floorsheet (``drift``) moves in a known way: it is sorted by contract id,
newest first, new trades only arrive on top, and every page answer carries its own ``totalElements``. So a page
read when the total had grown by ``shift = total_now - expected`` starts at rank ``page * size - shift``: rows of
negative rank are trades newer than the pull, and the ranks nobody delivered say exactly which pages to read again,
at the shift seen last.

A row is kept only if its rank has not been delivered yet and its key was never kept, so a pull never keeps more
rows than ``expected`` and never one twice (:meth:`Coverage.admit`). A rank is delivered by the row kept at it, or
by a row kept earlier showing up at that same rank; every rank still undelivered names a page to read again, so a
short listing always says which pages it lacks.

Evidence that a listing moved in a way its ranks do not describe (a key met at two ranks, two keys at one rank, or,
for a listing that should hold still, a page announcing another total) starts a new *generation* of a still
listing: every rank is undelivered again and the listing is read again whole at its new total, rows kept before
counting where they show up again. A drifting listing's ranks stay, and its inconsistent rows simply deliver
nothing, so their pages are read again.

A pull may also own only some of those ranks, ``ranks``: a Ray Data read task reads one part of a day, planned on
the driver from a page 0 it read there (:mod:`nepse_ray.data`). Rows outside the part are left to the other parts.
A part's ranks mean nothing once a still listing moved, so a part is never read again at a new total (its pull
says the listing changed instead).

>>> coverage = Coverage(expected=10, size=4, drift=True)
>>> coverage.first_rank(page=0, total_now=10), coverage.first_rank(page=1, total_now=12)
(0, 2)
>>> coverage.admit(0, [19, 18, 17, 16]).tolist(), coverage.admit(2, [17, 16, 15, 14]).tolist()
([True, True, True, True], [False, False, True, True])
>>> coverage.missing(), coverage.pages_to_fetch()
(4, [2])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import numpy.typing as npt


class Coverage:
    """The ranks ``ranks`` (default ``0 .. expected - 1``) of one listing of ``expected`` rows at the start, each
    delivered or still missing, and the keys kept.

    >>> part = Coverage(expected=10, size=4, drift=False, ranks=range(4, 7))
    >>> part.pages, part.pages_to_fetch(), part.admit(4, ["e", "f", "g", "h"]).tolist(), part.missing()
    (1, [1], [True, True, True, False], 0)
    """

    __slots__ = (
        "_answered",
        "_delivered",
        "_kept",
        "_ranks",
        "drift",
        "expected",
        "generations",
        "latest_total",
        "moved",
        "ranks",
        "round_start_total",
        "size",
        "totals",
    )

    def __init__(self, expected: int, size: int, drift: bool, ranks: range | None = None) -> None:
        self.size = size
        self.drift = drift
        self._kept: set[Hashable] = set()
        self.generations = 0
        self.totals: set[int] = set()
        self._start(expected, range(expected) if ranks is None else ranks)

    def _start(self, expected: int, ranks: range) -> None:
        if not 0 <= ranks.start <= ranks.stop <= expected or ranks.step != 1:
            raise ValueError(f"ranks {ranks} are not a part of a listing of {expected} rows")
        self.ranks = ranks
        self.expected = expected
        self.latest_total = expected
        self.round_start_total = expected
        self._answered = False
        self.moved = False
        self.generations += 1
        self.totals.add(expected)
        self._delivered = np.zeros(len(ranks), dtype=bool)
        self._ranks: dict[Hashable, int] = {}

    @property
    def wanted(self) -> int:
        """Rows this coverage is for: all ``expected``, or those of its part."""
        return len(self.ranks)

    @property
    def whole(self) -> bool:
        """Whether this coverage is for the whole listing (not a part of it)."""
        return self.ranks == range(self.expected)

    @property
    def page_range(self) -> range:
        """The pages that held the wanted ranks when the current generation started."""
        if not self.ranks:
            return range(0)
        return range(self.ranks.start // self.size, -(-self.ranks.stop // self.size))

    @property
    def pages(self) -> int:
        return len(self.page_range)

    @property
    def rows(self) -> int:
        """Rows kept, across generations."""
        return len(self._kept)

    def restart(self, total: int) -> None:
        """A still listing moved: read it again whole, as it holds ``total`` rows now (rows kept stay kept). Only a
        whole listing can: a part's ranks mean nothing in the listing's new order."""
        if not self.whole:
            raise ValueError("a part of a listing cannot be read again at a new total; read the listing again")
        self._start(total, range(total))

    def first_rank(self, page: int, total_now: int) -> int:
        """The starting-order rank of the first row of ``page`` read while the listing held ``total_now`` rows."""
        if not self.drift:
            return page * self.size
        if not self._answered:  # a part may start long after its page 0: its first round grows from here
            self._answered = True
            self.round_start_total = total_now
        self.latest_total = max(self.latest_total, total_now)
        return page * self.size - (total_now - self.expected)

    def admit(self, first: int, keys: Sequence[Hashable], *, kept_only: bool = False) -> npt.NDArray[np.bool_]:
        """Which of a page's rows (keys in page order, the first at rank ``first``) to keep; records what they
        deliver, and sets :attr:`moved` on evidence that the listing moved (see the module docstring). Rows at
        ranks outside :attr:`ranks` (newer than the pull, or another part's) are never kept.

        ``kept_only``: keep nothing new, only let rows kept before deliver their ranks (a page read again in the
        generation its own answer started).
        """
        keep = np.zeros(len(keys), dtype=bool)
        start = self.ranks.start
        for j, key in enumerate(keys):
            rank = first + j
            if rank not in self.ranks:
                continue
            known = self._ranks.get(key)
            if known is not None:
                self.moved |= known != rank
            elif self._delivered[rank - start]:
                self.moved = True
            elif key in self._kept or not kept_only:
                self._ranks[key] = rank
                self._delivered[rank - start] = True
                if key not in self._kept:
                    self._kept.add(key)
                    keep[j] = True
        return keep

    def next_round(self) -> list[int]:
        """The pages the next round reads: the missing ranks, looking ahead by the growth seen this round."""
        pages = self.pages_to_fetch(lookahead=self.latest_total - self.round_start_total)
        self.round_start_total = self.latest_total
        return pages

    def missing(self) -> int:
        return self.wanted - int(np.count_nonzero(self._delivered))

    def pages_to_fetch(self, lookahead: int = 0) -> list[int]:
        """The pages that hold the missing ranks, judged by the latest total seen.

        ``lookahead`` rows: how much the listing may still grow before the pages are read (a live floorsheet
        keeps growing while they are asked for), so each missing rank's page at the latest total and at
        ``lookahead`` more rows are both read.
        """
        shift = self.latest_total - self.expected if self.drift else 0
        missing = np.flatnonzero(~self._delivered) + self.ranks.start + shift
        if not self.drift or lookahead <= 0:
            return [int(p) for p in np.unique(missing // self.size)]
        return [int(p) for p in np.unique(np.concatenate([missing // self.size, (missing + lookahead) // self.size]))]
