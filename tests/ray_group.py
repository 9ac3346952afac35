"""How ``make test`` shares the suite between two pytest-xdist workers: the Ray tests in one, the rest around them.

The test files that run Ray (those with ``pytest.mark.ray`` or the plugin's session cluster or pool factory in
their text) form one scope, so their tests run one after another in one worker on one cluster: two at once would
share two cores, and their rate and timing figures with them. Every other test is a scope of its own, shared out
between the workers. The controller process of pytest-xdist collects nothing itself, so the Ray files are found by
reading the test files, and a file that mixes Ray and pure tests goes whole into the Ray scope. (xdist's own
``--dist loadgroup`` reads ``xdist_group`` marks into the node ids, which pytest 9.2 no longer lets it change.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

RAY_SCOPE = "ray"
RAY_SIGNS = ("pytest.mark.ray", "nepse_ray_cluster", "nepse_pool_factory")


def ray_files(root: Path) -> frozenset[str]:
    """The test files under ``root/tests`` that run Ray, as node id paths (relative to ``root``)."""
    return frozenset(
        path.relative_to(root).as_posix()
        for path in (root / "tests").rglob("test_*.py")
        if any(sign in path.read_text(encoding="utf-8") for sign in RAY_SIGNS)
    )


class RayScopeScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type information
    """xdist's scope scheduling with one scope for the Ray files and one per test elsewhere. The largest scope is
    handed out first, so one worker starts on the Ray tests at once."""

    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)
        self.ray_files = ray_files(config.rootpath)

    def _split_scope(self, nodeid: str) -> str:
        return RAY_SCOPE if nodeid.split("::", 1)[0] in self.ray_files else nodeid
