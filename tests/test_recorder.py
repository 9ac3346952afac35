"""The recorder: one call per event moves the PoolStats counter and the matching Ray metric together."""

from __future__ import annotations

from typing import Any

import pytest

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.pool.metrics import COUNTERS, GAUGES, PoolMetrics
from nepse_ray.pool.recorder import Recorder
from nepse_ray.pool.stats import PoolStats


class SpyMetrics(PoolMetrics):
    """Real Ray metric objects, plus a record of what the recorder handed over."""

    def __init__(self) -> None:
        super().__init__("demo")
        self.added: dict[tuple[str, tuple[tuple[str, str], ...]], int] = {}
        self.observed: list[float] = []
        self.gauges: dict[str, dict[str, int]] = {}

    def add(self, counts: Any, latencies: list[float]) -> None:
        super().add(counts, latencies)
        for key, count in counts.items():
            self.added[key] = self.added.get(key, 0) + count
        self.observed += latencies

    def set(self, key: str, values: Any) -> None:
        super().set(key, values)
        self.gauges[key] = dict(values)


def test_every_metric_name_is_accepted_by_ray() -> None:
    metrics = PoolMetrics("demo")
    assert len(metrics.all()) == len(COUNTERS) + len(GAUGES) + 1
    assert not [metric._name for metric in metrics.all() if metric._discard_metric]  # Ray drops bad names quietly


def test_every_counter_is_a_pool_stats_field() -> None:
    assert set(Recorder().counts.__slots__) <= set(PoolStats.model_fields)


def test_events_move_counters_at_once_and_metrics_on_flush() -> None:
    spy = SpyMetrics()
    recorder = Recorder(spy)
    recorder.answered("bulk", 0.5, nbytes=1000)
    recorder.answered("interactive", 0.1, nbytes=0)
    recorder.failed(NepseServerError("502"))
    recorder.retried()
    recorder.cache_hit()
    recorder.coalesced()
    recorder.refused()
    recorder.worker_restarted()
    recorder.scaled("up", 3)

    counts = recorder.counts
    assert (counts.total_tasks_completed, counts.total_errors, counts.retries, counts.result_bytes) == (2, 1, 1, 1000)
    assert (counts.cache_hits, counts.coalesced, counts.refused, counts.worker_restarts) == (1, 1, 1, 1)
    assert counts.scale_up_events == 1
    assert spy.added == {}  # nothing handed to Ray on the request path

    recorder.flush({"serving": 2, "starting": 1}, {"interactive": 0, "bulk": 7})

    assert spy.added == {
        ("completed", (("lane", "bulk"),)): 1,
        ("completed", (("lane", "interactive"),)): 1,
        ("result_bytes", ()): 1000,
        ("errors", (("error", "NepseServerError"),)): 1,
        ("retries", ()): 1,
        ("cache_hits", ()): 1,
        ("coalesced", ()): 1,
        ("refused", ()): 1,
        ("worker_events", (("event", "restart"),)): 1,
        ("scale_events", (("direction", "up"),)): 3,
    }
    assert spy.observed == [0.5, 0.1]
    assert spy.gauges == {"workers": {"serving": 2, "starting": 1}, "queue_length": {"interactive": 0, "bulk": 7}}
    recorder.flush({}, {})
    assert spy.observed == [0.5, 0.1]  # handed over once


def test_latency_percentiles_of_recent_answers() -> None:
    recorder = Recorder()
    for latency in (0.1, 0.2, 0.3, 0.4):
        recorder.answered("bulk", latency, 0)
    assert recorder.latency_percentiles() == pytest.approx((0.25, 0.385))
