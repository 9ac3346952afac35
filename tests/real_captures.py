"""The real site's answers that public repositories captured (2022-2026), read where they lie: never copied here.

They live in the workplace's shared folder, ``shared/fixtures/real/`` beside the project or beside one of its
parent folders (``NEPSE_REAL_CAPTURES`` names another place). Each file is put back into the shape the site sent
(libraries flatten pages: their rows go back into a minimal Spring page) and named by the catalogue endpoint whose
model reads it; ``prove`` is the handshake, read by :class:`~nepse_ray.nepse.models.ProveResponse`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

#: File-name pattern -> endpoint, first match wins (the files' names say what they hold; see the folder's README).
ENDPOINT_BY_NAME: tuple[tuple[str, str], ...] = (
    (r"prove_", "prove"),
    (r"market_(open|status|state)", "market_open"),
    (r"company_list|static_companies", "company_list"),
    (r"security_list|static_non_delisted", "security_list"),
    (r"nepse_index", "nepse_index"),
    (r"subindices|sub_indices", "sub_indices"),
    (r"price_volume_history_today|today_price", "today_price"),
    (r"price_volume|daily_stats_\d+", "price_volume"),
    (r"supply_demand", "supply_demand"),
    (r"top_gainers", "top_gainers"),
    (r"top_losers", "top_losers"),
    (r"top_trade_|top_traded_|top_volume", "top_ten_trade"),
    (r"top_transaction", "top_ten_transaction"),
    (r"top_turnover", "top_ten_turnover"),
    (r"live_market", "live_market"),
    (r"floorsheet", "floorsheet"),
    (r"market_summary", "market_summary"),
    (r"index_graph", "index_intraday_graph"),
    (r"stock_intraday_graph", "stock_intraday_graph"),
    (r"daily_price_graph", "daily_price_graph"),
    (r"market_depth", "market_depth"),
    (r"security_detail", "security_detail"),
    (r"price_history_rows|security_\d+_(history|extended)", "security_price_history"),
    (r"index_\d+_history", "index_history"),
)


PAGED = frozenset({"today_price", "security_price_history", "index_history", "floorsheet"})


@dataclasses.dataclass(frozen=True)
class Capture:
    """One captured answer: where it came from, the endpoint it answers, and the body as the site sent it."""

    path: Path
    endpoint: str
    body: Any

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}"


def captures_folder() -> Path | None:
    """The folder of real captures, or None when this machine has none."""
    named = os.environ.get("NEPSE_REAL_CAPTURES")
    if named:
        return Path(named) if Path(named).is_dir() else None
    for parent in Path(__file__).resolve().parents:
        folder = parent / "shared" / "fixtures" / "real"
        if folder.is_dir():
            return folder
    return None


def endpoint_of(path: Path) -> str:
    for pattern, endpoint in ENDPOINT_BY_NAME:
        if re.search(pattern, path.name):
            return endpoint
    raise LookupError(f"{path.name}: no endpoint matches its name; add a pattern to ENDPOINT_BY_NAME")


def as_sent(endpoint: str, body: Any) -> Any:
    """``body`` in the shape the site sent: a flattened page's rows (or ``{"content": rows}``) back in a page."""
    if endpoint not in PAGED:
        return body
    wrapper = body if endpoint == "floorsheet" and isinstance(body, dict) else {}
    page = wrapper.get("floorsheets", body) if wrapper else body
    if isinstance(page, list):
        page = {"content": page}
    if "totalElements" not in page:
        rows = page["content"]
        page = {"content": rows, "totalElements": len(rows), "totalPages": 1, "number": 0, "size": len(rows)}
    return {**wrapper, "floorsheets": page} if endpoint == "floorsheet" else page


def load_captures() -> list[Capture]:
    folder = captures_folder()
    if folder is None:
        return []
    paths = sorted(p for p in folder.glob("*/*.json"))
    return [Capture(p, endpoint_of(p), as_sent(endpoint_of(p), json.loads(p.read_text()))) for p in paths]


def require_captures() -> list[Capture]:
    captures = load_captures()
    if not captures:
        pytest.skip(
            "no real captures on this machine: they live in shared/fixtures/real/ beside the project (or set "
            "NEPSE_REAL_CAPTURES); they are other people's data and are never copied into the repository"
        )
    return captures
