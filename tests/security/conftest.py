"""Fixtures of the security tests (tests/security): the real simulator in hostile mode against the real client.

``hostile_sim("oversized-pages", ...)`` starts a small, limit-free simulator (``sim_session.QUICK``) serving the
named kinds of :mod:`nepse_ray.sim.hostile` on its data endpoints; ``client_of(sim)`` is a ``NepseClient`` on it
whose rate limiter never holds a test back. The fix of each finding has a test here that fails without the fix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sim_session import BUSINESS_DATE, QUICK

from nepse_ray.nepse.client import NepseClient
from nepse_ray.sim import Simulator


@pytest.fixture
def hostile_sim(nepse_sim_factory: Callable[..., Simulator]) -> Callable[..., Simulator]:
    """``hostile_sim(*kinds, **config)``: a simulator serving ``kinds``; stopped at teardown."""

    def make(*kinds: str, **config: Any) -> Simulator:
        return nepse_sim_factory(**{**QUICK, **config, "hostile": list(kinds)})

    return make


@pytest.fixture
def client_of() -> Iterator[Callable[..., NepseClient]]:
    """``client_of(sim, **options)``: a NepseClient on ``sim`` (100 requests/s, signing with the simulated day's
    payload ids); closed at teardown."""
    clients: list[NepseClient] = []

    def make(sim: Simulator, **options: Any) -> NepseClient:
        options.setdefault("rate", 100.0)
        options.setdefault("day", lambda: BUSINESS_DATE.day)
        client = NepseClient(sim.base_url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
