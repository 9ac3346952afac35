"""Summary arithmetic for pool statistics (latency percentiles), kept pure so it is tested without Ray."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (``0 <= q <= 100``) of ``values`` by linear interpolation, or ``None`` when empty.

    Linear interpolation between the closest ranks is numpy's default (``method="linear"``): the 50th percentile of
    ``[1, 2, 3, 4]`` is ``2.5``, the 0th is the minimum and the 100th the maximum::

        >>> percentile([4.0, 1.0, 3.0, 2.0], 50)
        2.5
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be between 0 and 100, got {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
