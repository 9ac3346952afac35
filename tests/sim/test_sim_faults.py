"""Injected faults: each kind is observable on the wire and counted; the draws are reproducible from the seed."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
import requests
from sim_session import QUICK, proved

from nepse_ray.sim import SimConfig, Simulator
from nepse_ray.sim.faults import FAULT_KINDS, draw_fault, draw_latency

MARKET_OPEN = "/api/nots/nepse-data/market-open"


@pytest.fixture()
def sim() -> Iterator[Simulator]:
    with Simulator(**QUICK) as simulator:
        yield simulator


def test_502(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(fault_5xx=1.0)
    response = session.get(MARKET_OPEN)
    assert response.status_code == 502 and "502 Bad Gateway" in response.text
    assert sim.stats()["faults_injected"] == {"5xx": 1}


def test_dropped_connection(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(fault_drop=1.0)
    with pytest.raises(requests.ConnectionError):
        session.get(MARKET_OPEN)
    stats = sim.stats()
    assert stats["faults_injected"] == {"drop": 1} and stats["responses_by_status"]["dropped"] == 1


def test_403_html(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(fault_403=1.0)
    response = session.call("market_depth", security_id=1)
    assert response.status_code == 403 and "403 Forbidden" in response.text
    assert response.headers["Content-Type"].startswith("text/html")
    assert sim.stats()["faults_injected"] == {"403": 1}


def test_non_json_200(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(fault_non_json=1.0)
    bodies = [session.get("/api/nots/company/list") for _ in range(8)]
    assert all(r.status_code == 200 for r in bodies)
    for response in bodies:
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.text)
    kinds = {r.headers["Content-Type"].split(";")[0] for r in bodies}
    assert kinds == {"text/html", "application/json"}  # the HTML shell and truncated JSON both occur
    assert sim.stats()["faults_injected"] == {"non_json": 8}


def test_empty_pages_hit_only_signed_or_paged_endpoints(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(fault_empty=1.0)
    assert session.call("floorsheet").json() == []
    assert session.call("index_history", index_id=58).json() == []
    assert session.call("market_open").json()["id"] == 80
    assert sim.stats()["faults_injected"] == {"empty": 2}


def test_early_expiry_revokes_the_token(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(fault_early_expiry=1.0)
    assert session.get(MARKET_OPEN).status_code == 401
    sim.configure(fault_early_expiry=0.0)
    assert session.get(MARKET_OPEN).status_code == 401  # stays expired
    assert proved(sim).get(MARKET_OPEN).status_code == 200  # a new prove works
    stats = sim.stats()
    assert stats["faults_injected"] == {"early_expiry": 1} and stats["auth_failures"] == {"revoked": 1}


def test_latency_is_injected_and_counted(sim: Simulator) -> None:
    session = proved(sim)
    sim.configure(latency_ms=5, jitter_ms=5)
    assert session.get(MARKET_OPEN).status_code == 200
    assert sim.stats()["faults_injected"] == {"latency": 1}


def test_faults_never_hit_the_handshake(sim: Simulator) -> None:
    sim.configure(fault_5xx=1.0, fault_drop=1.0, fault_403=1.0)
    assert proved(sim).prove_body["salt1"]
    assert requests.get(sim.base_url + "/assets/prod/css.wasm", timeout=10).status_code == 200


def test_runtime_configuration_over_http(sim: Simulator) -> None:
    url = sim.base_url + "/_sim/config"
    changed = requests.post(url, json={"fault_5xx": 0.25, "on_excess": 429}, timeout=10)
    assert changed.status_code == 200 and changed.json()["fault_5xx"] == 0.25
    assert requests.get(url, timeout=10).json()["on_excess"] == "429"
    assert sim.config.fault_5xx == 0.25
    for bad in ({"fault_5xx": 2}, {"seed": 3}, {"nope": 1}, [1]):
        assert requests.post(url, json=bad, timeout=10).status_code == 400, bad
    assert requests.post(sim.base_url + "/_sim/reset-stats", timeout=10).status_code == 204


def test_configure_refuses_startup_only_fields(sim: Simulator) -> None:
    with pytest.raises(ValueError, match="trades"):
        sim.configure(trades=10)


def test_fault_sequence_is_reproducible_from_the_seed() -> None:
    def pattern(seed: int) -> list[int]:
        with Simulator(**{**QUICK, "seed": seed, "fault_5xx": 0.5}) as sim:
            session = proved(sim)
            return [session.get(MARKET_OPEN).status_code for _ in range(24)]

    first = pattern(3)
    assert first == pattern(3)
    assert set(first) == {200, 502}
    assert first != pattern(4)


def test_draw_order_and_scope() -> None:
    everything = SimConfig.model_validate({f"fault_{k}": 1.0 for k in FAULT_KINDS})
    assert draw_fault(everything, random.Random(0), pageable=True) == "drop"
    assert draw_fault(SimConfig(fault_empty=1.0), random.Random(0), pageable=True) == "empty"
    assert draw_fault(SimConfig(), random.Random(0), pageable=True) is None
    assert draw_latency(SimConfig(latency_ms=20), random.Random(0)) == 0.02
    assert 0.02 <= draw_latency(SimConfig(latency_ms=20, jitter_ms=10), random.Random(0)) <= 0.03
