"""Injected faults: which one (if any) hits a request, drawn from the server's seeded RNG.

The failure modes are those clients meet on the real site: dropped connections, 502s, 403 HTML
pages, 200s that are not JSON, ``200 []`` pages, and tokens refused before their time. Each authed request
draws once per enabled kind, in a fixed order, so one seed and one request sequence give the same faults.

>>> config = SimConfig(fault_5xx=1.0)
>>> draw_fault(config, random.Random(0), pageable=False)
'5xx'
>>> draw_fault(SimConfig(fault_empty=1.0), random.Random(0), pageable=False) is None
True
"""

from __future__ import annotations

import random
from typing import Literal

from .config import SimConfig

FaultKind = Literal["drop", "5xx", "403", "early_expiry", "non_json", "empty"]
FAULT_KINDS: tuple[FaultKind, ...] = ("drop", "5xx", "403", "early_expiry", "non_json", "empty")

BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>"
    b"\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
FORBIDDEN_HTML = (
    b"<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n<center><h1>403 Forbidden</h1></center>"
    b"\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
NOT_ALLOWED_HTML = (
    b"<html>\r\n<head><title>405 Not Allowed</title></head>\r\n<body>\r\n<center><h1>405 Not Allowed</h1></center>"
    b"\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
#: The single-page app's HTML shell: what the site sends for any path that is not an API call or an asset.
APP_SHELL_HTML = b"<!DOCTYPE html><html><head><title>NEPSE</title></head><body><app-root></app-root></body></html>"


def draw_fault(config: SimConfig, rng: random.Random, *, pageable: bool) -> FaultKind | None:
    """The fault for one authed request; ``empty`` only hits signed or paged endpoints."""
    for kind in FAULT_KINDS:
        rate: float = getattr(config, f"fault_{kind}")  # fault_drop, fault_5xx, ...
        if rate > 0 and (pageable or kind != "empty") and rng.random() < rate:
            return kind
    return None


def draw_latency(config: SimConfig, rng: random.Random) -> float:
    """Seconds to hold a request: the base latency plus uniform jitter."""
    if config.latency_ms <= 0 and config.jitter_ms <= 0:
        return 0.0
    return (config.latency_ms + rng.uniform(0.0, config.jitter_ms)) / 1000.0


def non_json_body(body: bytes, rng: random.Random) -> tuple[bytes, str]:
    """A 200 body that does not parse: the SPA's HTML shell or the real JSON cut in half."""
    if rng.random() < 0.5 or len(body) < 2:
        return APP_SHELL_HTML, "text/html"
    return body[: len(body) // 2], "application/json"
