"""What the simulator counts, served as ``GET /_sim/stats``.

Tokens appear only under their opaque labels ("t0001"); salts and payload ids are never recorded. All updates
happen on the server's event loop; :meth:`SimStats.snapshot` copies everything into plain JSON types.

>>> stats = SimStats(floorsheet_rows=1200, page_size=500)
>>> for now in (0.0, 0.3, 0.6, 1.2):
...     stats.count_token("t0001", now)
>>> snap = stats.snapshot()
>>> snap["max_rate_per_token"], snap["floorsheet_pages"]
(3, 3)
>>> for sent in (0.0, 1.0, 0.6):  # the request sent at 0.6 was held longer by the simulated latency
...     stats.count_sent("t0001", sent)
>>> round(stats.snapshot()["min_gap_per_token"]["t0001"], 3)
0.4
"""

from __future__ import annotations

import bisect
import collections
import math
from typing import Any

#: Send times kept per token to place a late-counted request among them (latency reorders a few requests at most).
_SENT_KEPT = 16


class SimStats:
    __slots__ = (
        "_page_size",
        "_recent",
        "_sent",
        "auth_failures",
        "faults_injected",
        "floorsheet_rows",
        "max_rate_per_token",
        "min_gap_per_token",
        "rate_limit_violations",
        "requests_per_address",
        "requests_per_endpoint",
        "requests_per_token",
        "requests_total",
        "responses_by_status",
        "tokens_issued",
        "violations_per_token",
    )

    def __init__(self, floorsheet_rows: int, page_size: int) -> None:
        self.floorsheet_rows = floorsheet_rows
        self._page_size = page_size
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the ground truth about the served day stays)."""
        self.requests_total = 0
        self.requests_per_endpoint: collections.Counter[str] = collections.Counter()
        self.requests_per_address: collections.Counter[str] = collections.Counter()
        self.requests_per_token: collections.Counter[str] = collections.Counter()
        self.responses_by_status: collections.Counter[str] = collections.Counter()
        self.rate_limit_violations = 0
        self.violations_per_token: collections.Counter[str] = collections.Counter()
        self.max_rate_per_token = 0
        self.tokens_issued = 0
        self.faults_injected: collections.Counter[str] = collections.Counter()
        self.auth_failures: collections.Counter[str] = collections.Counter()
        self._recent: dict[str, collections.deque[float]] = {}
        self.min_gap_per_token: dict[str, float] = {}
        self._sent: dict[str, list[float]] = {}

    def count_request(self, endpoint: str) -> None:
        self.requests_total += 1
        self.requests_per_endpoint[endpoint] += 1

    def count_address(self, address: str) -> None:
        """One /api request from client ``address`` (what the per-address limit keys on)."""
        self.requests_per_address[address] += 1

    def count_status(self, status: int | str) -> None:
        self.responses_by_status[str(status)] += 1

    def count_token(self, label: str, now: float) -> None:
        """One authed request under ``label``; tracks the busiest 1-second window (now - 1, now]."""
        self.requests_per_token[label] += 1
        window = self._recent.get(label)
        if window is None:
            window = self._recent[label] = collections.deque()
        window.append(now)
        while window[0] <= now - 1.0:
            window.popleft()
        self.max_rate_per_token = max(self.max_rate_per_token, len(window))

    def count_sent(self, label: str, sent: float) -> None:
        """One authed request under ``label`` that reached the server at ``sent``, before any simulated latency: as
        the client sent it. Tracks the smallest gap between two of the token's requests in the order they were sent
        (requests are counted after their latency, so out of order: the last ``_SENT_KEPT`` are kept sorted)."""
        sent_times = self._sent.setdefault(label, [])
        at = bisect.bisect(sent_times, sent)
        gaps = [abs(sent - neighbour) for neighbour in sent_times[max(0, at - 1) : at + 1]]
        if gaps:
            self.min_gap_per_token[label] = min(self.min_gap_per_token.get(label, math.inf), *gaps)
        sent_times.insert(at, sent)
        if len(sent_times) > _SENT_KEPT:
            del sent_times[0]

    def count_violation(self, label: str | None) -> None:
        self.rate_limit_violations += 1
        if label is not None:
            self.violations_per_token[label] += 1

    def count_fault(self, kind: str) -> None:
        self.faults_injected[kind] += 1

    def count_auth_failure(self, reason: str) -> None:
        self.auth_failures[reason] += 1

    def snapshot(self, **extra: Any) -> dict[str, Any]:
        return {
            "requests_total": self.requests_total,
            "requests_per_endpoint": dict(self.requests_per_endpoint),
            "requests_per_address": dict(self.requests_per_address),
            "requests_per_token": dict(self.requests_per_token),
            "responses_by_status": dict(self.responses_by_status),
            "rate_limit_violations": self.rate_limit_violations,
            "violations_per_token": dict(self.violations_per_token),
            "max_rate_per_token": self.max_rate_per_token,
            "min_gap_per_token": dict(self.min_gap_per_token),
            "tokens_issued": self.tokens_issued,
            "faults_injected": dict(self.faults_injected),
            "auth_failures": dict(self.auth_failures),
            "floorsheet_rows": self.floorsheet_rows,
            "floorsheet_pages": math.ceil(self.floorsheet_rows / self._page_size),
            **extra,
        }
