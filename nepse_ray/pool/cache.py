"""Shared results: which answers may be reused and for how long, and the byte-bounded store that keeps them.

Pure: expiry runs on a monotonic clock and "today" on a wall clock in Nepal, both passed in, so tests move time by
hand. The coordinator asks :meth:`CachePolicy.ttl` before it stores a successful result (errors are never stored)
and looks requests up by :attr:`~nepse_ray.pool.request.PoolRequest.key`.

Default rules (:data:`DEFAULT_RULES`), by endpoint:

* ``security_list``, ``company_list``: until the end of the trading day (midnight in Nepal);
* ``market_open``: 5 seconds;
* ``floorsheet``, ``security_floorsheet``, ``today_price``: kept for good when the request names a
  ``business_date`` before today in Nepal (a closed day does not change); today's or undated pages are not cached;
* ``security_price_history``: kept for good when its ``end_date`` is before today in Nepal;
* everything else (live prices, indices, the index history that gains a row each day): not cached.

``PoolOptions.cache_ttl`` replaces the rule of an endpoint with a fixed number of seconds (``0`` turns caching of
that endpoint off, ``math.inf`` keeps its answers for good). Session requests (``get_access_token`` ...) are never
cached: they answer from one worker's token.

>>> policy = CachePolicy({"market_open": 2.0})
>>> now = dt.datetime(2026, 11, 30, 18, 0, tzinfo=NEPAL_TZ)
>>> policy.ttl("market_open", {}, now), policy.ttl("live_market", {}, now)
(2.0, None)
>>> policy.ttl("security_list", {}, now) / 3600
6.0
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

from nepse_ray.nepse.payload import NEPAL_TZ

V = TypeVar("V")

#: Seconds to keep an answer given the request's query (wire names and values, as sent) and the time in Nepal;
#: None: do not keep it.
Rule = Callable[[Mapping[str, str], dt.datetime], float | None]


def fixed(seconds: float) -> Rule:
    """Keep every answer ``seconds`` (0 or less: never)."""

    def rule(query: Mapping[str, str], now: dt.datetime) -> float | None:
        return seconds if seconds > 0 else None

    return rule


def until_midnight_in_nepal(query: Mapping[str, str], now: dt.datetime) -> float:
    """Keep the answer for the rest of the trading day."""
    local = now.astimezone(NEPAL_TZ)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=NEPAL_TZ)
    return (midnight - local).total_seconds()


def past_day(wire_name: str) -> Rule:
    """Keep the answer for good when query parameter ``wire_name`` names a day before today in Nepal."""

    def rule(query: Mapping[str, str], now: dt.datetime) -> float | None:
        day = query.get(wire_name)  # the catalogue sends dates as YYYY-MM-DD, so they compare as dates do
        return math.inf if day is not None and day < now.astimezone(NEPAL_TZ).date().isoformat() else None

    return rule


DEFAULT_RULES: Mapping[str, Rule] = {
    "security_list": until_midnight_in_nepal,
    "company_list": until_midnight_in_nepal,
    "market_open": fixed(5.0),
    "floorsheet": past_day("businessDate"),
    "security_floorsheet": past_day("businessDate"),
    "today_price": past_day("businessDate"),
    "security_price_history": past_day("endDate"),
}


class CachePolicy:
    """How long the answer of one request may be reused: :data:`DEFAULT_RULES` with per-endpoint overrides."""

    __slots__ = ("_rules",)

    def __init__(self, overrides: Mapping[str, float] | None = None) -> None:
        self._rules = {**DEFAULT_RULES, **{name: fixed(seconds) for name, seconds in (overrides or {}).items()}}

    def ttl(self, endpoint: str, query: Mapping[str, str], now: dt.datetime) -> float | None:
        """Seconds to keep the answer of ``endpoint`` sent with ``query`` at wall time ``now``; None: do not keep it."""
        rule = self._rules.get(endpoint)
        return None if rule is None else rule(query, now)


class ResultCache(Generic[V]):
    """Answers by key, each until its expiry, at most ``max_bytes`` in all (least recently used go first)."""

    __slots__ = ("_clock", "_entries", "max_bytes", "nbytes")

    def __init__(self, max_bytes: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[V, int, float]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        """The answer stored under ``key`` if it has not expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[2] <= self._clock():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def seconds_left(self, key: Hashable) -> float | None:
        """Seconds until the answer under ``key`` expires (``math.inf`` for good); None if there is none now."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        left = entry[2] - self._clock()
        return left if left > 0 else None

    def put(self, key: Hashable, value: V, nbytes: int, ttl: float) -> bool:
        """Store ``value`` for ``ttl`` seconds; False if it is larger than the whole cache."""
        if nbytes > self.max_bytes or ttl <= 0:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (value, nbytes, self._clock() + ttl)
        self.nbytes += nbytes
        while self.nbytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    def purge(self) -> int:
        """Drop every expired answer now (the coordinator calls it on each tick); how many were dropped."""
        now = self._clock()
        expired = [key for key, (_, _, expires_at) in self._entries.items() if expires_at <= now]
        for key in expired:
            self._drop(key)
        return len(expired)

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: Hashable) -> None:
        _, nbytes, _ = self._entries.pop(key)
        self.nbytes -= nbytes
