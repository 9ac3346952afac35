"""A thread-safe token bucket that paces one client's requests.

The bucket holds at most ``burst`` permits and refills at ``rate`` permits per second, so in any window of
``t`` seconds it grants at most ``rate·t + burst`` permits. It is kept as one number, the *theoretical arrival
time* of the next permit (the GCRA form of a token bucket): a permit is free when that time, less the burst
allowance, is not in the future. Time comes from one injectable clock and waiting from one injectable sleep,
so tests drive it by hand.

>>> now = [0.0]
>>> bucket = TokenBucket(rate=2.0, burst=1, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
>>> bucket.acquire(), bucket.acquire(), bucket.try_acquire()
(0.0, 0.5, False)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import NepseInputError

#: Float rounding can leave a sleeper a hair short of its slot; a grant this early still counts as on time.
_SLACK = 1e-6


class TokenBucket:
    """Grants permits at ``rate`` per second with bursts of up to ``burst``; safe to share between threads."""

    __slots__ = ("_clock", "_interval", "_lock", "_next_free", "_sleep", "_tolerance", "_urgent", "burst", "rate")

    def __init__(
        self,
        rate: float = 2.0,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise NepseInputError(f"rate must be a positive number of requests per second, got {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise NepseInputError(f"burst must be an int of at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = burst
        self._interval = 1.0 / self.rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free = clock()
        self._urgent = 0  # urgent callers waiting for a permit

    def _reserve(self, now: float) -> float:
        """Take a permit if one is free at ``now`` and return 0.0, else return how long until one is."""
        next_free = self._next_free if self._next_free > now else now
        wait = next_free - self._tolerance - now
        if wait > _SLACK:
            return wait
        self._next_free = next_free + self._interval
        return 0.0

    def try_acquire(self) -> bool:
        """Take a permit if one is free right now (and no urgent caller waits for it); never waits."""
        with self._lock:
            return self._take(self._clock(), urgent=False) == 0.0

    def acquire(self, *, urgent: bool = False) -> float:
        """Block until a permit is granted and return the seconds spent waiting (0.0 when none was needed).

        An ``urgent`` caller (a person waiting for an answer) gets the next free permit before callers that are
        not urgent (bulk pages), however long those have waited: it waits for at most one interval, not for every
        thread sharing the bucket. The lock is never held while sleeping; a sleeper re-checks on waking, so waiters
        that lose a race simply wait for the next slot.
        """
        with self._lock:
            start = self._clock()
            wait = self._take(start, urgent)
            if wait and urgent:
                self._urgent += 1
        if wait == 0.0:
            return 0.0
        try:
            while True:
                self._sleep(wait)
                with self._lock:
                    now = self._clock()
                    wait = self._take(now, urgent)
                if wait == 0.0:
                    return now - start
        finally:
            if urgent:
                with self._lock:
                    self._urgent -= 1

    def _take(self, now: float, urgent: bool) -> float:
        """:meth:`_reserve`, except that a caller who is not urgent leaves the next permit to a waiting urgent one."""
        if urgent or not self._urgent:
            return self._reserve(now)
        return max(0.0, self._next_free - self._tolerance - now) + self._interval

    def next_permit_at(self) -> float:
        """The clock time from which :meth:`try_acquire` will succeed (now or earlier if a permit is free).

        A pure query: it takes nothing and never waits, so an event loop can set one timer for exactly that moment
        instead of polling.
        """
        with self._lock:
            return self._next_free - self._tolerance

    def pause(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` from now, to every thread sharing the bucket (the server sent a 429).

        After the pause one request may go at once and the rest follow at ``rate``: a pause never banks a burst.
        """
        with self._lock:
            resume = self._clock() + max(0.0, seconds)
            if resume + self._tolerance > self._next_free:
                self._next_free = resume + self._tolerance

    def note_used(self) -> None:
        """Record that the permit just granted is being used now, which may be later than it was granted.

        A permit granted on time but used late (the sending thread was descheduled, the host was busy) would
        leave less than one interval before the next, on-time request, and the server would see two requests
        too close together. Measuring the next interval from the actual use keeps the pace at the server.
        Waiting threads re-check when they wake, so they see the later slot.
        """
        with self._lock:
            used_at = self._clock()
            if used_at + self._interval > self._next_free:
                self._next_free = used_at + self._interval

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst})"
