"""A NepseClient wired to a fake NEPSE (the client tests' rig), the fake's canned bodies, and the leak check."""

from __future__ import annotations

import pickle
from typing import Any

from nepse_fakes import BASE_URL, SALT_SETS, SAMPLES, FakeClock, FakeNepse

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.payload import PayloadVariant

SUMMARY = "/api/nots/market-summary/"
FLOORSHEET = "/api/nots/nepse-data/floorsheet"
TODAY_PRICE = "/api/nots/nepse-data/today-price"
DETAIL = "/api/nots/security/131"
INDEX_GRAPH = "/api/nots/graph/index/58"
DEPTH = "/api/nots/nepse-data/marketdepth/131"

BODIES = {
    SUMMARY: SAMPLES["market_summary"],
    FLOORSHEET: SAMPLES["floorsheet"],
    TODAY_PRICE: SAMPLES["today_price"],
    DETAIL: SAMPLES["security_detail"],
    INDEX_GRAPH: SAMPLES["index_intraday_graph"],
    DEPTH: [],
}
SIGNED = {
    FLOORSHEET: PayloadVariant.FLOORSHEET,
    TODAY_PRICE: PayloadVariant.B,
    DETAIL: PayloadVariant.BASE,
    INDEX_GRAPH: PayloadVariant.GENERAL,
}


class Rig:
    """A client wired to a FakeNepse, a fake clock and a recording sleep; the limiter never waits."""

    def __init__(self, fake: FakeNepse | None = None, **options: Any) -> None:
        self.fake = fake or FakeNepse(bodies=BODIES, signed=SIGNED)
        self.clock = FakeClock()
        settings: dict[str, Any] = {"rate": 1e6, "burst": 10_000, "day": lambda: self.fake.day} | options
        self.client = NepseClient(BASE_URL, clock=self.clock, sleep=self.clock.sleep, transport=self.fake, **settings)

    def secrets(self) -> list[str]:
        """Everything that must never show in an error: tokens, salts, and every payload id sent."""
        ids = [str(s.json_body["id"]) for s in self.fake.sent if isinstance(s.json_body, dict)]
        return [*self.fake.secrets(), *ids]

    def body_ids(self, path: str) -> list[object]:
        return [s.json_body["id"] if isinstance(s.json_body, dict) else None for s in self.fake.requests_to(path)]


def assert_leaks_nothing(error: BaseException, secrets: list[str]) -> None:
    assert secrets, "a test must know what to look for"
    texts = [str(error), repr(error), pickle.dumps(error).decode("latin-1")]
    for secret in [*secrets, "Salter"]:
        for text in texts:
            assert secret not in text
    state = vars(error)
    assert not any(value in state.values() for value in (*SALT_SETS[0], *SALT_SETS[1], *SALT_SETS[2]))
