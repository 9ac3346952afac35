"""Chaos: a floorsheet pull through the pool while the simulator injects faults, workers are SIGKILLed every second
or so and the coordinator is SIGKILLed once (the second kill); the rows must equal the simulator's ground truth
exactly. At 4 requests/s per token the pull takes well over the three seconds the first three kills need.

The pull is a plain loop over pages: every page is submitted, and a page whose request still fails after the pool's
retries is submitted again in a later round (a few rounds at most). The ground truth is the same walk made with a
single-token client before any fault is switched on.
"""

from __future__ import annotations

import os
import random
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest
import ray

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseError
from nepse_ray.nepse.models import FloorsheetRow
from nepse_ray.pool.api import NepseWorkerAPI
from nepse_ray.sim import Simulator
from nepse_ray.testing import live_actors

pytestmark = pytest.mark.ray

TRADES = 6_000
SIZE = 100
PAGES = TRADES // SIZE
FAULTS: dict[str, Any] = {
    "fault_5xx": 0.05,
    "fault_drop": 0.03,
    "fault_non_json": 0.03,
    "fault_empty": 0.03,
    "latency_ms": 60.0,
}
ROUNDS = 6


def ground_truth(sim: Simulator) -> list[dict[str, Any]]:
    with NepseClient(sim.base_url, rate=1000.0, burst=10) as client:
        rows = [row for page in range(PAGES) for row in client.floorsheet(page=page, size=SIZE).floorsheets.content]
    return sorted((row.model_dump() for row in rows), key=lambda row: row["contract_id"])


def pull(api: NepseWorkerAPI) -> tuple[list[FloorsheetRow], int]:
    """Every page, in rounds; the rows and the number of pages that needed another round."""
    rows: dict[int, list[FloorsheetRow]] = {}
    missing, again = list(range(PAGES)), 0
    for _ in range(ROUNDS):
        refs = {page: api.remote.floorsheet(page=page, size=SIZE) for page in missing}
        missing = []
        for page, ref in refs.items():
            try:
                rows[page] = ray.get(ref).floorsheets.content
            except NepseError:
                missing.append(page)
        again += len(missing)
        if not missing:
            break
    assert not missing, f"pages {missing} failed {ROUNDS} rounds"
    return [row for page in sorted(rows) for row in rows[page]], again


class Killer(threading.Thread):
    """SIGKILLs a random worker every ``interval`` seconds, and the coordinator once, until stopped."""

    def __init__(self, api: NepseWorkerAPI, interval: float) -> None:
        super().__init__(daemon=True)
        self._api, self._interval, self._rng = api, interval, random.Random(7)
        self.stop = threading.Event()
        self.kills: list[str] = []

    def run(self) -> None:
        while not self.stop.wait(self._interval):
            actors = [a for a in live_actors() if a["Pid"]]
            if len(self.kills) == 1:  # the second kill is the coordinator's
                victims = [a for a in actors if a["ActorClassName"] == "PoolCoordinator"]
            else:
                victims = [a for a in actors if a["ActorClassName"] == "NepseWorker"]
            if victims:
                victim = self._rng.choice(victims)
                try:
                    os.kill(victim["Pid"], signal.SIGKILL)
                except ProcessLookupError:
                    continue
                self.kills.append(victim["ActorClassName"])


def test_a_pull_under_faults_and_kills_returns_exactly_the_ground_truth(
    nepse_pool_factory: Callable[..., NepseWorkerAPI], nepse_sim_factory: Callable[..., Simulator]
) -> None:
    sim = nepse_sim_factory(trades=TRADES, rate_limit=None)
    expected = ground_truth(sim)
    api = nepse_pool_factory(
        sim, min_workers=3, max_workers=3, rate_per_token=4.0, max_retries=4, backoff_base=0.05, backoff_cap=0.2
    )
    sim.configure(**FAULTS)
    killer = Killer(api, interval=1.0)

    killer.start()
    try:
        rows, _ = pull(api)
    finally:
        killer.stop.set()
        killer.join()

    got = sorted((row.model_dump() for row in rows), key=lambda row: row["contract_id"])
    assert got == expected  # every trade once, each exactly as the site has it
    assert len(expected) == TRADES
    assert "PoolCoordinator" in killer.kills and killer.kills.count("NepseWorker") >= 2
    injected = sim.stats()["faults_injected"]
    assert sum(injected.values()) > 0, injected
