"""The compat summary line at the end of a run: per client, the call tests that returned the simulator's truth.

``tests/compat/conftest.py`` names each call test's client in its report's user properties under
:data:`COMPAT_CLIENT`; ``tests/conftest.py`` feeds every report to :class:`CompatTally` and prints its line. The
user properties travel with the reports, so the count is right in a plain run and under pytest-xdist, whose
controller process collects nothing itself.
"""

from __future__ import annotations

from collections import Counter

import pytest

COMPAT_CLIENT = "compat_client"


class CompatTally:
    """Which client each call test belongs to, and whether the ones that ran passed."""

    def __init__(self) -> None:
        self.client: dict[str, str] = {}
        self.passed: dict[str, bool] = {}

    def record(self, report: pytest.TestReport) -> None:
        """A call test counts once it ran (or its setup failed or skipped): passed only if its call passed."""
        client = dict(report.user_properties).get(COMPAT_CLIENT)
        if client is not None and (report.when == "call" or not report.passed):
            self.client[report.nodeid] = str(client)
            self.passed[report.nodeid] = report.when == "call" and report.passed

    def line(self) -> str | None:
        if not self.passed:
            return None
        total = Counter(self.client.values())
        passed = Counter(self.client[nodeid] for nodeid, ok in self.passed.items() if ok)
        each = ", ".join(f"{client} {passed[client]}/{count}" for client, count in sorted(total.items()))
        return f"compat: {passed.total()} of {total.total()} client calls returned the simulator's truth ({each})"
