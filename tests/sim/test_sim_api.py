"""The simulator's public surface and the examples in its modules' docstrings."""

from __future__ import annotations

import doctest
import importlib
import threading

import pytest
from sim_session import QUICK

import nepse_ray.sim
from nepse_ray.sim import SimConfig, Simulator

MODULES = ("auth", "config", "faults", "limits", "market", "stats", "wasm", "wire")


def test_public_names() -> None:
    assert sorted(nepse_ray.sim.__all__) == ["SimConfig", "Simulator", "SimulatorError", "SimulatorProcess", "serve"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"nepse_ray.sim.{name}")
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def test_simulator_from_a_config_with_overrides() -> None:
    with Simulator(SimConfig(**QUICK), fault_5xx=0.5) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert sim.config.fault_5xx == 0.5 and sim.config.seed == QUICK["seed"]
        assert sim.configure(fault_5xx=0.0).fault_5xx == 0.0
        assert sim.stats()["requests_total"] == 0
    sim.close()  # closing twice is harmless


def test_bad_overrides_are_refused() -> None:
    with pytest.raises(ValueError):
        Simulator(rate_limit=-1)


def test_a_taken_port_raises_and_leaves_no_thread() -> None:
    with Simulator(**QUICK) as sim:
        port = int(sim.base_url.rsplit(":", 1)[1])
        before = threading.active_count()
        with pytest.raises(OSError):
            Simulator(**QUICK, port=port)
        assert threading.active_count() == before
