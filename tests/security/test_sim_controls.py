"""The simulator's controls cannot be driven by a web page: ``POST /_sim/config`` wants JSON and a loopback Host,
``POST /_sim/reset-stats`` a loopback Host, and the added latency is bounded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from nepse_ray.sim import Simulator


def post(sim: Simulator, path: str, **kwargs: Any) -> requests.Response:
    return requests.post(sim.base_url + path, timeout=10, **kwargs)


def test_a_form_post_cannot_change_the_config(hostile_sim: Callable[..., Simulator]) -> None:
    sim = hostile_sim()
    # What a page on any site can make a browser send without a CORS preflight: a text/plain body.
    answer = post(sim, "/_sim/config", data='{"fault_5xx": 1.0}', headers={"Content-Type": "text/plain"})
    assert answer.status_code == 415 and sim.config.fault_5xx == 0.0


@pytest.mark.parametrize("host", ["rebind.example", "rebind.example:80", "192.0.2.7"])
def test_a_request_for_another_host_cannot_change_the_config_or_reset_the_stats(
    hostile_sim: Callable[..., Simulator], host: str
) -> None:
    sim = hostile_sim()
    requests.get(sim.base_url + "/api/authenticate/prove", headers={"Referer": sim.base_url}, timeout=10)
    assert post(sim, "/_sim/config", json={"fault_5xx": 1.0}, headers={"Host": host}).status_code == 403
    assert post(sim, "/_sim/reset-stats", headers={"Host": host}).status_code == 403
    assert sim.config.fault_5xx == 0.0 and sim.stats()["requests_total"] == 1


def test_latency_is_bounded(hostile_sim: Callable[..., Simulator]) -> None:
    sim = hostile_sim()
    answer = post(sim, "/_sim/config", json={"latency_ms": 1e9})
    assert answer.status_code == 400 and "latency_ms" in answer.text
    assert sim.config.latency_ms == 0.0


def test_this_machine_still_drives_the_simulator(hostile_sim: Callable[..., Simulator]) -> None:
    sim = hostile_sim()
    port = sim.base_url.rsplit(":", 1)[1]
    assert post(sim, "/_sim/config", json={"fault_5xx": 0.5}, headers={"Host": f"localhost:{port}"}).ok
    assert post(sim, "/_sim/config", json={"latency_ms": 5.0}).ok
    assert post(sim, "/_sim/reset-stats").status_code == 204
    assert (sim.config.fault_5xx, sim.config.latency_ms) == (0.5, 5.0)
