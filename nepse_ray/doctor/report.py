"""The doctor's report: one :class:`Check` per thing checked, and the verdict, as a pydantic model.

Each check is ``ok``, ``changed`` (the site differs from what nepse-ray knows, and nepse-ray copes) or ``broken``
(nepse-ray cannot work until a fix), with a one-line ``detail`` and ``advice``. The verdict is the worst of them;
:attr:`DoctorReport.exit_code` is 0, 1 or 2 for ``ok``, ``changed`` and ``broken``. Nothing in a report is a
token, a salt or a payload id.

>>> report = DoctorReport.of("http://127.0.0.1:8080", [Check(name="clock", status="changed", detail="45 s ahead")])
>>> report.verdict, report.exit_code
('changed', 1)
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["ok", "changed", "broken"]
STATUSES: tuple[Status, ...] = ("ok", "changed", "broken")


class Check(BaseModel):
    """One check: ``tls``, ``clock``, ``handshake``, ``token-decoder``, ``payload-ids`` or ``endpoint:<name>``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    status: Status
    detail: str
    advice: str = ""


def _version() -> str:
    try:
        return importlib.metadata.version("nepse-ray")
    except importlib.metadata.PackageNotFoundError:
        return "0"


class DoctorReport(BaseModel):
    """What ``nepse-ray doctor`` found at ``site``; ``--json`` prints exactly this model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Status
    site: str
    version: str
    checks: tuple[Check, ...]

    @classmethod
    def of(cls, site: str, checks: Sequence[Check]) -> DoctorReport:
        worst = max((STATUSES.index(check.status) for check in checks), default=0)
        return cls(verdict=STATUSES[worst], site=site, version=_version(), checks=tuple(checks))

    @property
    def exit_code(self) -> int:
        return STATUSES.index(self.verdict)

    def check(self, name: str) -> Check:
        """The check called ``name``; KeyError if the report has none."""
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(name)

    def changed(self) -> list[Check]:
        """The checks that are not ``ok``."""
        return [check for check in self.checks if check.status != "ok"]
