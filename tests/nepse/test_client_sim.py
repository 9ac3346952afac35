"""NepseClient end to end against the simulator: every endpoint, a full floorsheet walk, and each fault kind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sim_session import BUSINESS_DATE, sample_params

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.errors import (
    NepseConnectionError,
    NepseEmptyPageError,
    NepseForbiddenError,
    NepseInvalidResponseError,
    NepseServerError,
)
from nepse_ray.sim import Simulator

#: Limits off on both sides so the suite runs fast; the per-token limit has its own test below.
SIM: dict[str, Any] = {"trades": 5_000, "business_date": BUSINESS_DATE, "rate_limit": None, "seed": 17}


@pytest.fixture()
def sim() -> Iterator[Simulator]:
    with Simulator(**SIM) as simulator:
        yield simulator


@pytest.fixture()
def client(sim: Simulator) -> Iterator[NepseClient]:
    with NepseClient(sim.base_url, rate=1000.0, burst=10) as nepse:
        yield nepse


def test_every_catalogue_endpoint(client: NepseClient) -> None:
    security_id = client.price_volume()[0].security_id
    for name in CATALOGUE:
        result = client.call(name, **sample_params(name, security_id))
        assert result, name
    assert client.stats()["empty_pages"] == 0


def test_a_full_floorsheet_walk_matches_the_ground_truth(sim: Simulator, client: NepseClient) -> None:
    first = client.floorsheet(page=0)
    rows = list(first.floorsheets.content)
    for page in range(1, first.floorsheets.total_pages):
        rows += client.floorsheet(page=page).floorsheets.content
    ids = {row.contract_id for row in rows}
    assert len(rows) == len(ids) == sim.stats()["floorsheet_rows"]


@pytest.mark.parametrize(
    "fault,error",
    [
        ("fault_5xx", NepseServerError),
        ("fault_drop", NepseConnectionError),
        ("fault_403", NepseForbiddenError),
        ("fault_non_json", NepseInvalidResponseError),
        ("fault_empty", NepseEmptyPageError),
    ],
)
def test_each_fault_maps_to_its_error(sim: Simulator, client: NepseClient, fault: str, error: type[Exception]) -> None:
    client.market_open()  # prove and fetch the market id before the faults start
    sim.configure(**{fault: 1.0})
    with pytest.raises(error):
        client.floorsheet(page=0)
    assert sum(sim.stats()["faults_injected"].values()) >= 1


def test_empty_today_price_falls_back_to_the_other_variant_then_raises(sim: Simulator, client: NepseClient) -> None:
    client.market_open()
    sim.configure(fault_empty=1.0)
    with pytest.raises(NepseEmptyPageError):
        client.today_price()
    stats = client.stats()
    assert stats["empty_page_fallbacks"] == 1 and stats["payload_heal_requests"] > 0
    assert sim.stats()["faults_injected"] == {"empty": 2 + stats["payload_heal_requests"]}


def test_early_expiry_is_transparently_re_proved(sim: Simulator, client: NepseClient) -> None:
    client.market_open()
    sim.configure(fault_early_expiry=0.2)
    for _ in range(12):
        assert client.market_summary()
    expired = sim.stats()["faults_injected"].get("early_expiry", 0)
    assert expired >= 1  # this seed's draws hit, but never twice in a row
    assert client.stats()["reproves_on_401"] == expired


def test_a_429_is_retried_after_retry_after() -> None:
    with Simulator(**{**SIM, "rate_limit": 2.0}) as sim, NepseClient(sim.base_url, rate=1000.0, burst=10) as client:
        # prove, market-open (the token's first request), then market-summary right after it: refused once
        # with Retry-After: 1, slept, then served.
        assert client.market_summary()
        stats = sim.stats()
    assert client.stats()["rate_limited"] == stats["rate_limit_violations"] == 1


def test_a_paced_client_is_never_flagged() -> None:
    with Simulator(**{**SIM, "rate_limit": 2.0}) as sim, NepseClient(sim.base_url) as client:
        for _ in range(3):
            client.market_summary()
        assert sim.stats()["rate_limit_violations"] == 0
