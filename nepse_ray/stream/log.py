"""``FeedLog``: one feed's current rows and its last ticks, from which every subscriber reads at its own cursor.

The coordinator keeps one log per feed. Each poll's rows go in (:meth:`FeedLog.record`); if anything changed, a
:class:`~nepse_ray.stream.tick.Tick` with the next ``seq`` comes out and joins a ring of the last ``ring`` ticks.
A subscriber holds a :class:`Cursor`, the log's generation and the ``seq`` of the last tick it received, and asks
for what follows it (:meth:`FeedLog.read`), so each subscriber receives every change exactly once, at its own pace,
and asking again with the same cursor (an answer lost on the way) returns the same ticks. A new subscriber (no
cursor) starts from a snapshot of every row; one whose cursor fell out of the ring, or belongs to another
generation of the log (the feed was stopped and started again, the coordinator restarted), gets a snapshot flagged
``resync`` instead of the ticks it missed.

Pure: no clock (times come in with the rows), no Ray, no I/O.

>>> import datetime as dt
>>> from .feeds import feed_key
>>> log = FeedLog(feed_key("nepse_index", 5.0), generation=1, ring=2)
>>> at = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.timezone.utc)
>>> [tick.seq for tick in log.record([{"id": 58, "close": 1.0}], at)]
[1]
>>> log.record([{"id": 58, "close": 1.0}], at)            # nothing changed: no tick
[]
>>> _ = log.record([{"id": 58, "close": 2.0}], at), log.record([{"id": 58, "close": 3.0}], at)
>>> [tick.seq for tick in log.read(Cursor(1, 1))]
[2, 3]
>>> [(tick.seq, tick.snapshot, tick.resync) for tick in log.read(Cursor(1, 0))]  # tick 1 left the ring of 2
[(3, True, True)]
"""

from __future__ import annotations

import collections
import datetime as dt
from collections.abc import Hashable

from .diff import diff
from .feeds import FeedKey, Row
from .tick import Cursor, Tick

#: Ticks a feed keeps for subscribers that are behind: past that, a subscriber gets a fresh snapshot.
RING = 64


class FeedLog:
    """The rows and last ticks of the feed ``key`` (see the module docstring)."""

    __slots__ = ("_ring", "_state", "at", "generation", "key", "polls", "seq")

    def __init__(self, key: FeedKey, *, generation: int, ring: int = RING) -> None:
        self.key = key
        self.generation = generation
        self.seq = 0
        self.polls = 0
        self.at: dt.datetime | None = None
        self._state: dict[Hashable, Row] = {}
        self._ring: collections.deque[Tick] = collections.deque(maxlen=ring)

    def record(self, rows: list[Row], at: dt.datetime) -> list[Tick]:
        """A poll's ``rows``, answered at ``at``: the tick of what changed (none when nothing did)."""
        self.polls += 1
        change = diff(self._state, rows, self.key.feed.key)
        self._state = change.state
        if not change.changed and not change.removed and self.at is not None:
            return []
        self.seq += 1
        self.at = at
        tick = Tick(self.key.name, self.key.target, self.seq, at, tuple(change.changed), tuple(change.removed))
        self._ring.append(tick)
        return [tick]

    def cursor(self) -> Cursor:
        """The cursor of a subscriber that has received every tick so far."""
        return Cursor(self.generation, self.seq)

    def read(self, cursor: Cursor | None) -> list[Tick]:
        """What a subscriber at ``cursor`` receives next (nothing before the first poll): a snapshot when it has
        no cursor, the ticks after its cursor, or a ``resync`` snapshot when those are no longer all here."""
        if self.at is None:
            return []
        if cursor is None:
            return [self._snapshot(resync=False)]
        after = self._after(cursor.seq) if cursor.generation == self.generation else None
        return [self._snapshot(resync=True)] if after is None else after

    def _snapshot(self, *, resync: bool) -> Tick:
        assert self.at is not None
        rows = tuple(self._state.values())
        return Tick(self.key.name, self.key.target, self.seq, self.at, rows, snapshot=True, resync=resync)

    def _after(self, seq: int) -> list[Tick] | None:
        """The ticks that follow tick ``seq``; None when some of them already left the ring."""
        if seq > self.seq or seq < 0:
            return None
        if seq == self.seq:
            return []
        if not self._ring or self._ring[0].seq > seq + 1:
            return None
        return [tick for tick in self._ring if tick.seq > seq]
