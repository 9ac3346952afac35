"""Other NEPSE clients, unmodified, against the simulator's defaults (tests/compat).

Five clients from the package index, pinned in the ``compat`` extra: nepsepy, nepseman-api, nepse-data-api,
nepse-scraper and nepse-sdk. Each test module points one client at a simulator started with its default settings
(only the day's size is small), runs every data call the client offers that the site answers, one after another as
a user would, and compares each answer with the simulator's truth read by :class:`~sim_session.TruthSession`.

The clients run as their users do, in Nepal: several take the day term of payload ids from the machine's local
clock, so ``TZ`` is Asia/Kathmandu while they run (and restored after).

At the end of a run the terminal summary counts, per client, the calls that returned the simulator's truth (the
tests that read a client's ``answers``).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from compat_walk import Context, context, walk
from sim_session import TruthSession

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


#: Each call test's client (the first words of its module's docstring), and whether each one that ran passed.
_CLIENT: dict[str, str] = {}
_PASSED: dict[str, bool] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if isinstance(item, pytest.Function) and item.path.parent == here and "answers" in item.fixturenames:
            _CLIENT[item.nodeid] = (item.module.__doc__ or item.path.stem).split(" (")[0]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A call test counts once it ran (or its setup failed or skipped): passed only if its call passed."""
    if report.nodeid in _CLIENT and (report.when == "call" or not report.passed):
        _PASSED[report.nodeid] = report.when == "call" and report.passed


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _PASSED:
        return
    total = Counter(_CLIENT[nodeid] for nodeid in _PASSED)
    passed = Counter(_CLIENT[nodeid] for nodeid, ok in _PASSED.items() if ok)
    each = ", ".join(f"{client} {passed[client]}/{count}" for client, count in sorted(total.items()))
    line = f"compat: {passed.total()} of {total.total()} client calls returned the simulator's truth ({each})"
    terminalreporter.write_line(line)
