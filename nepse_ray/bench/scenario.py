"""A benchmark scenario: what it measures, its goals, and the parameters of its full and quick runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from .context import BenchContext
from .report import Goal, Value

Measure = Callable[[BenchContext, Mapping[str, Any]], dict[str, Value]]


@dataclasses.dataclass(frozen=True)
class Scenario:
    """``measure(context, parameters)`` returns the figures the ``goals`` name (and any others worth reporting)."""

    name: str
    description: str
    measure: Measure
    full: Mapping[str, Any]
    quick: Mapping[str, Any]
    goals: tuple[Goal, ...] = ()

    def parameters(self, quick: bool) -> dict[str, Any]:
        return dict(self.quick if quick else self.full)
