"""The change between two polls of a feed: a snapshot in, the rows that changed out.

Pure: rows are compared by key (:attr:`~nepse_ray.stream.feeds.Feed.key`) and by value, nothing else. A row is
*changed* when its key is new or any of its values differs from the last poll's row of that key; a key the last
poll had and this one lacks is *removed*. Rows keep the order the site sent them in.

>>> old = {1: {"id": 1, "close": 10.0}, 2: {"id": 2, "close": 20.0}}
>>> new = [{"id": 2, "close": 21.0}, {"id": 3, "close": 5.0}]
>>> change = diff(old, new, lambda row: row["id"])
>>> change.changed, change.removed
([{'id': 2, 'close': 21.0}, {'id': 3, 'close': 5.0}], [1])
>>> sorted(change.state)
[2, 3]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

Row = dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """What one poll changed: the rows new or different (in the site's order), the keys gone, and the new state."""

    changed: list[Row]
    removed: list[Hashable]
    state: dict[Hashable, Row]


def diff(previous: Mapping[Hashable, Row], rows: Sequence[Row], key: Callable[[Row], Hashable]) -> Change:
    """Compare a poll's ``rows`` with the ``previous`` state (key -> row); a key sent twice keeps its last row."""
    state = {key(row): row for row in rows}
    changed = [row for k, row in state.items() if previous.get(k) != row]
    removed = [k for k in previous if k not in state]
    return Change(changed, removed, state)
