"""Every scenario of the harness, in the order a run measures them (cheap and quiet first)."""

from __future__ import annotations

from . import coordinator, data, dataset, micro, overhead, pulls, resilience, scaleout, sitechange, stream, throughput
from .scenario import Scenario

_MODULES = (micro, throughput, resilience, overhead, coordinator, scaleout, pulls, data, dataset, sitechange, stream)

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        *(scenario for module in _MODULES for scenario in module.SCENARIOS),
        resilience.CHAOS,  # last: the longest, and it kills processes
    )
}
