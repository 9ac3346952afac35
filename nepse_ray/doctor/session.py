"""What the checks share: one client of the site (one token, its rate limiter, its own memory of the site) and what
earlier checks found (the served module, the prove's timing, the outcome of each endpoint called).

The doctor is polite: every request goes through the one client's rate limiter (2 per second by default), and the
quick set stays within :data:`QUICK_BUDGET` requests.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from ..nepse.client import NepseClient
from ..nepse.site import SiteMemory

#: The most requests the quick set may send (the site's per-token limit is about two per second).
QUICK_BUDGET = 30
#: The endpoints of the quick set (besides the handshake and market-open), with their arguments.
QUICK_SET: dict[str, dict[str, Any]] = {
    "market_summary": {},
    "nepse_index": {},
    "live_market": {},
    "security_list": {},
    "floorsheet": {"page": 0, "size": 20},
    "today_price": {"page": 0, "size": 20},
    "index_intraday_graph": {"index_id": 58},
}


@dataclasses.dataclass
class Session:
    """One doctor run's client and findings."""

    base_url: str
    client: NepseClient
    memory: SiteMemory
    verify: bool = True
    ca_bundle: str | None = None
    module: bytes | None = None
    prove_timing: tuple[float, float, float] | None = None  # (sent, received, serverTime), epoch seconds
    date_header: str | None = None
    business_date: dt.date | None = None
    security_id: int | None = None
    outcomes: dict[str, str] = dataclasses.field(default_factory=dict)  # endpoint -> "ok" or why it failed

    @property
    def requests(self) -> int:
        return int(self.client.stats()["requests_sent"])
