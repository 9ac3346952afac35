"""The environment nepse-ray's own test suite runs in, set before any test module imports Ray.

Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` when it is imported, and the test modules import it at collection,
so these are set here, once, for this suite only: clusters on 127.0.0.1, no usage stats, and no token auth, so the
subprocesses some tests start (a second cluster, the ``nepse-ray`` command) join without a token. The installed
pytest plugin (:mod:`nepse_ray.testing`) changes none of this for other projects.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from ray_group import RayScopeScheduling
from suite_report import CompatTally

for _name, _value in {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_AUTH_MODE": "disabled",
}.items():
    os.environ.setdefault(_name, _value)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> RayScopeScheduling | None:
    """``make test`` (``pytest -n 2 --dist loadscope``): the Ray test files in one worker, the rest around them
    (:mod:`ray_group`); any other ``--dist`` is xdist's own."""
    return RayScopeScheduling(config, log) if config.getoption("dist") == "loadscope" else None


_compat = CompatTally()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _compat.record(report)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    line = _compat.line()
    if line is not None:
        terminalreporter.write_line(line)
