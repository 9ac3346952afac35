"""Every scenario of the harness, in the order a run measures them (cheap and quiet first)."""

from __future__ import annotations

from . import coordinator, data, dataset, micro, overhead, pulls, resilience, scaleout, sitechange, stream, throughput
from .scenario import Scenario

SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for module in (
        micro,
        throughput,
        resilience,
        overhead,
        coordinator,
        scaleout,
        pulls,
        data,
        dataset,
        sitechange,
        stream,
    )
    for scenario in module.SCENARIOS
}
