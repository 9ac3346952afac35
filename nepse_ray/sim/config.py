"""SimConfig: everything that shapes one simulator run, validated.

The market (``seed``, ``trades``, ``business_date``, ``market_open``) and the listening address are fixed when
the server starts; every other field can change while it runs (:meth:`SimConfig.with_changes`, reached through
``Simulator.configure(...)`` or ``POST /_sim/config``), so a test can switch faults or limits on a live server.

>>> SimConfig(seed=7, fault_5xx=0.1).with_changes(rate_limit=None).rate_limit is None
True
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .changes import normalise
from .hostile import HostileName
from .tls import TLSMode

OnExcess = Literal["429", "drop", "empty"]
DaySource = Literal["nepal", "local", "asof"]
TodayPriceVariant = Literal["b", "floorsheet"]

#: Fields that define the served market or the socket; they cannot change on a running server.
STARTUP_ONLY_FIELDS = frozenset(
    {"host", "port", "seed", "trades", "business_date", "market_open", "live_trades_per_s", "past_days", "tls"}
)
#: Largest added latency and jitter: a minute already fails every client's timeouts.
MAX_LATENCY_MS = 60_000.0
#: Seconds of live arrivals generated ahead (a live simulator stops adding trades after this long).
LIVE_SPAN = 3600.0


def _rate() -> Any:
    return Field(default=0.0, ge=0.0, le=1.0, description="probability per authed request")


class SimConfig(BaseModel):
    """One simulator run. Rates of faults are probabilities per authed request, drawn from the seeded RNG."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=0, ge=0, le=65535)
    tls: TLSMode | None = Field(default=None, description="serve HTTPS with the site's flaw (nepse_ray.sim.tls)")

    # The synthetic market.
    seed: int = 0
    trades: int = Field(default=50_000, ge=0, le=999_999, description="floorsheet rows of the served day")
    market_id: int = Field(default=80, ge=0, le=99, description="the 'id' of market-open, m in the payload id")
    business_date: dt.date | None = Field(
        default=None, description="the served trading day; None = the latest Sun-Thu on or before today in Nepal"
    )
    market_open: bool = Field(default=False, description="serve the day as in session: broker ids and closes null")
    max_page_size: int = Field(default=500, ge=1, description="larger 'size' query values are capped to this")
    live_trades_per_s: float = Field(
        default=0.0, ge=0, le=1000, description="with market_open: new trades per second arriving while serving"
    )
    past_days: int = Field(
        default=0, ge=0, le=60, description="earlier trading days whose floorsheet and today-price are also served"
    )

    # The handshake.
    token_ttl: float = Field(default=60.0, gt=0, description="access-token lifetime in seconds")
    refresh_token_ttl: float = Field(default=3600.0, gt=0)
    require_referer: bool = Field(default=True, description="answer 403 to /api/* requests without a Referer")
    clock_offset: float = Field(default=0.0, description="seconds added to the wall clock (tests move time)")

    # Signed bodies.
    day_source: DaySource = Field(default="nepal", description="where the day term d of payload ids comes from")
    today_price_variant: TodayPriceVariant = Field(default="b", description="the one variant today-price accepts")

    # Limits.
    rate_limit: float | None = Field(default=2.0, gt=0, description="requests/s per token; None turns it off")
    burst: int = Field(default=1, ge=1)
    # GCRA tolerance: one request may arrive up to this much early (on a busy 2-core host a request that left on
    # time can reach the handler ~100 ms late, making the next on-time one look early). It never raises the
    # sustained rate, and back-to-back pairs are still violations, so it is stricter than "2 in any second".
    rate_leeway: float = Field(default=0.25, ge=0, description="seconds of arrival jitter forgiven")
    address_rate_limit: float | None = Field(default=None, gt=0, description="requests/s per client address")
    address_burst: int = Field(default=1, ge=1)
    on_excess: OnExcess = "429"

    # Faults.
    latency_ms: float = Field(default=0.0, ge=0, le=MAX_LATENCY_MS)
    jitter_ms: float = Field(default=0.0, ge=0, le=MAX_LATENCY_MS)
    fault_5xx: float = _rate()
    fault_drop: float = _rate()
    fault_403: float = _rate()
    fault_non_json: float = _rate()
    fault_empty: float = _rate()
    fault_early_expiry: float = _rate()

    # Hostile mode (nepse_ray.sim.hostile): attacks on the client, by name.
    hostile: tuple[HostileName, ...] = Field(default=(), description="hostile kinds served on the data endpoints")

    # Site changes (nepse_ray.sim.changes): the site as it may change, by name.
    changes: tuple[str, ...] = Field(default=(), description="site changes in force (NAME or NAME:ARGUMENT)")

    @field_validator("changes")
    @classmethod
    def _known_changes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise(spec) for spec in value)

    @model_validator(mode="after")
    def _live_needs_open_market(self) -> SimConfig:
        if self.live_trades_per_s and not self.market_open:
            raise ValueError("live_trades_per_s needs market_open: trades only arrive while the market is in session")
        return self

    @property
    def live_capacity(self) -> int:
        """Trades generated for live arrivals on top of ``trades`` (bounded by the 6-digit contract sequence)."""
        return min(999_999 - self.trades, math.ceil(self.live_trades_per_s * LIVE_SPAN))

    @field_validator("on_excess", mode="before")
    @classmethod
    def _status_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) else value

    def with_changes(self, **changes: Any) -> SimConfig:
        """A validated copy with ``changes`` applied; startup-only fields are refused with ValueError."""
        fixed = sorted(STARTUP_ONLY_FIELDS.intersection(changes))
        if fixed:
            raise ValueError(f"{', '.join(fixed)} cannot change on a running simulator; start a new one")
        return SimConfig.model_validate({**self.model_dump(), **changes})
