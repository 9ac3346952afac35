"""The simulator's rate limits: a keyed GCRA (generic cell rate algorithm), a pure function of arrival times.

One :class:`KeyedRateLimiter` serves the per-token limit and another the optional per-address limit. Each key
may send ``burst`` requests back to back and then one every ``1/rate`` seconds; ``leeway`` forgives that much
arrival jitter, so a client that spaces requests exactly ``1/rate`` apart is never flagged, yet the leeway does
not accumulate into a higher long-run rate. Time is passed in, so tests drive it by hand.

:meth:`~KeyedRateLimiter.admit` refuses a request that does not conform; :meth:`~KeyedRateLimiter.reserve` books
it the next free slot instead, when that slot is at most ``max_wait`` seconds away (the site answering slowly).

>>> limiter = KeyedRateLimiter(rate=2.0, burst=1, leeway=0.05)
>>> [limiter.admit("t1", now) for now in (0.0, 0.2, 0.47, 0.96)]
[None, 0.25, None, None]
>>> [limiter.reserve("t2", 0.0, max_wait=1.0) for _ in range(4)]
[0.0, 0.45, 0.95, None]
"""

from __future__ import annotations

import math


class KeyedRateLimiter:
    """``admit(key, now)`` returns None when the request conforms, else the seconds until it would."""

    __slots__ = ("_interval", "_theoretical_arrival", "_tolerance")

    def __init__(self, rate: float, burst: int = 1, leeway: float = 0.0) -> None:
        if rate <= 0 or burst < 1 or leeway < 0:
            raise ValueError(f"need rate > 0, burst >= 1 and leeway >= 0, got {rate}, {burst}, {leeway}")
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval + leeway
        self._theoretical_arrival: dict[object, float] = {}

    def admit(self, key: object, now: float) -> float | None:
        tat = max(self._theoretical_arrival.get(key, now), now)
        wait = tat - self._tolerance - now
        if wait > 0:
            return wait  # non-conforming: not counted against the key's future allowance
        self._theoretical_arrival[key] = tat + self._interval
        return None

    def reserve(self, key: object, now: float, max_wait: float) -> float | None:
        """Book the key's next slot and return the seconds until it (0.0 when the request conforms now), or None,
        booking nothing, when the slot is more than ``max_wait`` seconds away."""
        tat = max(self._theoretical_arrival.get(key, now), now)
        wait = max(0.0, tat - self._tolerance - now)
        if wait > max_wait:
            return None
        self._theoretical_arrival[key] = tat + self._interval
        return wait

    def forget_idle(self, now: float) -> None:
        """Drop keys whose allowance is fully restored (keeps memory flat across many tokens)."""
        self._theoretical_arrival = {k: t for k, t in self._theoretical_arrival.items() if t > now}


def retry_after_header(wait: float) -> str:
    """``Retry-After`` takes whole seconds; round up so a client that obeys it is admitted."""
    return str(max(1, math.ceil(wait)))
