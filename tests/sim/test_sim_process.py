"""SimulatorProcess: the same simulator in a child process, driven over /_sim/*."""

from __future__ import annotations

import pytest

from nepse_ray.nepse.client import NepseClient
from nepse_ray.sim import SimulatorError, SimulatorProcess


def test_child_process_serves_counts_and_reconfigures() -> None:
    with SimulatorProcess(seed=5, trades=1_000) as sim:
        with NepseClient(sim.base_url, rate=100.0) as client:
            page = client.floorsheet(page=0)
        stats = sim.stats()
        assert stats["floorsheet_rows"] == 1_000
        assert len(page.floorsheets.content) == 500
        assert stats["requests_total"] >= 3  # prove, market-open, floorsheet
        assert sim.configure(fault_5xx=0.5).fault_5xx == 0.5
        sim.reset_stats()
        assert sim.stats()["requests_total"] == 0
        process = sim._process
    assert process.poll() is not None  # stopped on exit


def test_bad_startup_is_reported() -> None:
    with pytest.raises(SimulatorError, match="did not start"):
        SimulatorProcess(host="256.0.0.1")
