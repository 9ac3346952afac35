"""The pool's metric tables seen whole: what the README, the dashboard and the head node's endpoint are checked
against."""

from __future__ import annotations

from nepse_ray.pool.metrics import COORDINATOR, WORKER, MetricSpec


def every_metric() -> tuple[MetricSpec, ...]:
    """Every metric the pool exports, coordinator's and workers'."""
    return (*COORDINATOR.values(), *WORKER.values())


def exported_names() -> frozenset[str]:
    """Every series name the pool exports, as Prometheus shows it."""
    return frozenset(name for spec in every_metric() for name in spec.exported)
