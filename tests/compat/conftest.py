"""Other NEPSE clients, unmodified, against the simulator's defaults (tests/compat).

Five clients from the package index, pinned in the ``compat`` extra: nepsepy, nepseman-api, nepse-data-api,
nepse-scraper and nepse-sdk. Each test module points one client at a simulator started with its default settings
(only the day's size is small), runs every data call the client offers that the site answers, one after another as
a user would, and compares each answer with the simulator's truth read by :class:`~sim_session.TruthSession`.

The clients run as their users do, in Nepal: several take the day term of payload ids from the machine's local
clock, so ``TZ`` is Asia/Kathmandu while they run (and restored after).

At the end of a run the terminal summary (``tests/conftest.py``) counts, per client, the calls that returned the
simulator's truth (the tests that read a client's ``answers``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compat_walk import Context, context, walk
from sim_session import TruthSession
from suite_report import COMPAT_CLIENT

from nepse_ray.sim import Simulator

#: The served day's trades: small, so a client's walk is quick; everything else is the simulator's default.
TRADES = 3_000


@pytest.fixture(scope="module")
def site() -> Iterator[Simulator]:
    """A simulator with its default settings, one per client module."""
    with Simulator(trades=TRADES, seed=5) as sim:
        yield sim


@pytest.fixture(scope="module")
def truth(site: Simulator) -> TruthSession:
    return TruthSession(site)


@pytest.fixture(scope="module")
def ctx(truth: TruthSession) -> Context:
    return context(truth)


@pytest.fixture(scope="module")
def answers(request: pytest.FixtureRequest, client: Any, ctx: Context) -> dict[str, Any]:
    """The module's ``CALLS`` run by its ``client``, one after another."""
    calls = request.module.CALLS
    return walk(calls, client, ctx)


@pytest.fixture(scope="module", autouse=True)
def in_nepal() -> Iterator[None]:
    """Local time is Nepal time while a module's client runs, as for the clients' users."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kathmandu"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Name each call test's client (the first words of its module's docstring) in its reports' user properties,
    which reach the process that prints the summary (``tests/conftest.py``) under pytest-xdist too."""
    here = Path(__file__).parent
    for item in items:
        if isinstance(item, pytest.Function) and item.path.parent == here and "answers" in item.fixturenames:
            item.user_properties.append((COMPAT_CLIENT, (item.module.__doc__ or item.path.stem).split(" (")[0]))
