"""``SyncReport``: what one sync did, in counts for a line and in details a user should read."""

from __future__ import annotations

import dataclasses
from pathlib import Path


@dataclasses.dataclass
class SyncReport:
    """What one sync did: pulls made, files written, days and history the site did not give, repairs, failures."""

    pulls: int = 0
    rows: int = 0
    written: list[Path] = dataclasses.field(default_factory=list)
    unavailable: list[str] = dataclasses.field(default_factory=list)
    gaps: list[str] = dataclasses.field(default_factory=list)
    repaired: list[str] = dataclasses.field(default_factory=list)
    refused: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        if not (self.pulls or self.repaired or self.written):
            return "up to date: nothing fetched, no file changed"
        counts = [
            f"{self.pulls} pull(s)",
            f"{self.rows:,} rows",
            f"{len(self.written)} file(s) written",
            *([f"{len(self.unavailable)} day(s) unavailable"] if self.unavailable else []),
            *([f"{len(self.repaired)} damaged file(s) repaired"] if self.repaired else []),
            *([f"{len(self.failed)} listing(s) failed"] if self.failed else []),
        ]
        return ", ".join(counts)

    def details(self) -> list[str]:
        """One line per thing a user should know beyond the counts."""
        return [
            *(f"unavailable: {entry}" for entry in self.unavailable),
            *(f"not served: {line}" for line in self.gaps),
            *(f"repaired: {line}" for line in self.repaired),
            *(f"refused: {line}" for line in self.refused),
            *(f"failed: {line}" for line in self.failed),
            *self.notes,
        ]
