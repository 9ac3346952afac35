"""Fixtures of the simulator tests (tests/sim).

Helpers shared with other groups live in ``tests/``: ``sim_session`` (a requests session that proves against the
simulator, the small ``QUICK`` market, sample parameters for every endpoint). Tests that change the simulator's
faults or limits make their own function-scoped ``sim`` so no other test sees the change.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_session import QUICK, SimSession, proved

from nepse_ray.sim import Simulator


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    """One small, fast simulator per test module (module scope: the tests only read from it)."""
    with Simulator(**QUICK) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def session(sim: Simulator) -> SimSession:
    """A proved session on the module's simulator."""
    return proved(sim)


@pytest.fixture(scope="module")
def traded_id(session: SimSession) -> int:
    """A security that traded on the business day."""
    return int(session.call("price_volume").json()[0]["securityId"])
