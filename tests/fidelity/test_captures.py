"""Every real answer of the site that public repositories captured parses through nepse-ray's client path: the
endpoint's model (what ``NepseClient`` and the pool return) and, for pages, the Arrow conversion the workers use
(the one-pass reader and the tolerant converter agree). The captures also pin what the models document."""

from __future__ import annotations

import json
from typing import Any

import pytest
from real_captures import Capture, load_captures, require_captures

from nepse_ray.nepse import models as m
from nepse_ray.nepse.drift import Drift, drift
from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.tables import page_batch, read_page, rows_batch
from nepse_ray.nepse.tokens import strip_junk

CAPTURES = load_captures()


def parse(capture: Capture) -> Any:
    """The capture read as the client reads the endpoint's answer."""
    if capture.endpoint == "prove":
        prove = m.ProveResponse.model_validate(capture.body)
        assert len(strip_junk(prove.access_token, prove.salt2)) == len(prove.access_token) - 5
        return prove
    parsed = CATALOGUE[capture.endpoint].parse(capture.body)
    if CATALOGUE[capture.endpoint].paged:
        fast = read_page(capture.endpoint, json.dumps(capture.body).encode())
        tolerant = page_batch(capture.endpoint, capture.body)
        assert fast is None or fast.rows.equals(tolerant.rows)
    elif capture.endpoint in ("security_list", "company_list"):
        rows_batch(capture.endpoint, capture.body)
    return parsed


@pytest.mark.parametrize("capture", CAPTURES or [None], ids=lambda c: c.name if c else "no-captures")
def test_every_capture_parses_through_the_clients_path(capture: Capture | None) -> None:
    if capture is None:
        require_captures()
        return
    assert parse(capture) is not None


def test_all_140_captures_are_there_and_parse() -> None:
    captures = require_captures()
    parsed = sum(1 for capture in captures if parse(capture) is not None)
    assert parsed == len(captures) == 140


def _index_objects(captures: list[Capture]) -> list[m.IndexValue]:
    return [
        m.IndexValue.model_validate(item)
        for c in captures
        if c.endpoint in ("nepse_index", "sub_indices")
        for item in c.body
    ]


def test_an_index_close_is_the_previous_sessions_close() -> None:
    """``change == current_value - close`` on every captured index object with a close (the models say so)."""
    values = [v for v in _index_objects(require_captures()) if v.close is not None]
    assert len(values) >= 30
    # The site rounds each value on its own: 2 of 51 objects are 0.02 off.
    assert all(abs(v.change - (v.current_value - v.close)) <= 0.025 for v in values)  # type: ignore[operator]


def test_sub_index_elements_carry_five_fields() -> None:
    subs = [item for c in require_captures() if c.endpoint == "sub_indices" for item in c.body]
    assert subs and all(set(item) == {"id", "index", "change", "perChange", "currentValue"} for item in subs)
    # ... which is the site as nepse-ray knows it: the doctor's drift finds nothing missing in them
    assert drift(CATALOGUE["sub_indices"], subs) == Drift()
    assert drift(CATALOGUE["nepse_index"], subs).missing_optional  # the indices' own answers do carry them


def test_movers_cp_is_the_close_and_zero_while_open() -> None:
    captures = require_captures()
    movers = [(c, row) for c in captures if c.endpoint in ("top_gainers", "top_losers") for row in c.body]
    assert all(row["cp"] in (0, row["ltp"]) for _, row in movers)
    open_rows = [row for c, row in movers if "2026-04-02" in c.name]
    assert open_rows and all(m.TopMover.model_validate(row).cp is None for row in open_rows)


def test_a_securitys_history_is_a_year_in_pages_of_2000() -> None:
    histories = [c for c in require_captures() if c.endpoint == "security_price_history" and "sobitkarki" in c.name]
    assert all(c.body["size"] == 2000 for c in histories)
    dates = [row["businessDate"] for c in histories for row in c.body["content"]]
    assert min(dates) == "2024-12-03" and max(dates) == "2025-12-03"  # asked from 2020: one year back, no more
