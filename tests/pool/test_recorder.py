"""The recorder and the metric tables: one call per event moves the PoolStats counter and the matching Ray metric
together; metrics reach Ray on each flush, and at once while the pool shuts down."""

from __future__ import annotations

import pytest
from metric_tables import exported_names
from pool_fakes import SpyMetrics
from ray.util.metrics import Metric

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.pool.metrics import COORDINATOR, WORKER, PoolMetrics, WorkerMetrics
from nepse_ray.pool.recorder import Recorder
from nepse_ray.pool.stats import PoolStats


def test_every_metric_name_is_accepted_by_ray() -> None:
    metrics = [*PoolMetrics("demo").all(), *WorkerMetrics("demo").all()]
    assert len(metrics) == len(COORDINATOR) + len(WORKER)
    assert not [metric._name for metric in metrics if metric._discard_metric]  # Ray drops bad names quietly


def test_each_counter_series_starts_at_zero_with_its_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prometheus's rate() counts an increment only from an earlier sample: a series first seen at 1 loses it."""
    points: set[tuple[str, float, tuple[tuple[str, str], ...]]] = set()

    def record(metric: Metric, value: float, tags: dict[str, str] | None = None) -> None:
        points.add((metric._name, value, tuple(sorted({**metric._default_tags, **(tags or {})}.items()))))

    monkeypatch.setattr(Metric, "_record", record)
    PoolMetrics("demo")
    WorkerMetrics("demo")

    pool = (("pool", "demo"),)
    assert points == {
        *(("nepse_pool_tasks_completed", 0, (("lane", lane), *pool)) for lane in ("interactive", "bulk")),
        *(("nepse_pool_worker_events", 0, (("event", e), *pool)) for e in ("quarantine", "replacement", "restart")),
        *(("nepse_pool_scale_events", 0, (("direction", d), *pool)) for d in ("down", "up")),
        *(
            (f"nepse_pool_{name}", 0, pool)
            for name in ("refused", "retries", "cache_hits", "coalesced", "result_bytes")
        ),
        ("nepse_pool_token_proves", 0, pool),
        ("nepse_pool_rate_limit_wait_seconds", 0, pool),
    }  # error classes are an open set: their series start with the first error


def test_exported_names_follow_prometheus_conventions() -> None:
    names = exported_names()
    assert "ray_nepse_pool_tasks_completed_total" in names
    assert "ray_nepse_pool_workers" in names
    assert {"ray_nepse_pool_latency_seconds_bucket", "ray_nepse_pool_latency_seconds_count"} <= names
    assert "ray_nepse_pool_token_proves_total" in names
    assert len(names) == sum(3 if spec.kind == "histogram" else 1 for spec in (*COORDINATOR.values(), *WORKER.values()))


def test_every_counter_is_a_pool_stats_field() -> None:
    assert set(Recorder().counts.__slots__) <= set(PoolStats.model_fields)


def test_events_move_counters_at_once_and_metrics_on_flush() -> None:
    spy = SpyMetrics()
    recorder = Recorder(spy)
    recorder.answered("bulk", "floorsheet", 0.5, nbytes=1000)
    recorder.answered("interactive", "market_open", 0.1, nbytes=0)
    recorder.waited("bulk", 0.25)
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
    assert spy.added == {} and spy.observed == []  # nothing handed to Ray on the request path

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
    assert spy.observed == [
        ("latency", (("endpoint", "floorsheet"),), 0.5),
        ("latency", (("endpoint", "market_open"),), 0.1),
        ("queue_wait", (("lane", "bulk"),), 0.25),
    ]
    assert spy.gauges == {"workers": {"serving": 2, "starting": 1}, "queue_length": {"interactive": 0, "bulk": 7}}
    recorder.flush({}, {})
    assert len(spy.observed) == 3  # handed over once


def test_at_shutdown_every_event_reaches_ray_at_once() -> None:
    spy = SpyMetrics()
    recorder = Recorder(spy)
    recorder.answered("bulk", "floorsheet", 0.5, nbytes=10)
    recorder.flush_at_once()
    assert spy.added[("completed", (("lane", "bulk"),))] == 1  # the buffer first
    recorder.answered("bulk", "floorsheet", 0.2, nbytes=10)
    recorder.failed(NepseServerError("502"))
    assert spy.added[("completed", (("lane", "bulk"),))] == 2  # then each event as it happens, no flush needed
    assert spy.added[("errors", (("error", "NepseServerError"),))] == 1
    assert [value for _, _, value in spy.observed] == [0.5, 0.2]


def test_without_metrics_only_the_counters_move() -> None:
    recorder = Recorder()
    recorder.answered("bulk", "floorsheet", 0.5, nbytes=10)
    recorder.flush_at_once()
    recorder.flush({"serving": 1}, {"bulk": 0})
    assert recorder.counts.total_tasks_completed == 1


def test_worker_metrics_add_only_what_changed() -> None:
    added: list[tuple[str, float]] = []
    metrics = WorkerMetrics("demo")
    for key, counter in metrics._counters.items():
        counter.inc = lambda value, tags=None, key=key: added.append((key, value))  # type: ignore[method-assign,assignment,misc]
    metrics.update({"proves": 1, "rate_limit_wait_seconds": 0.0, "requests_sent": 2})
    metrics.update({"proves": 1, "rate_limit_wait_seconds": 0.5, "requests_sent": 3})
    metrics.update({"proves": 2, "rate_limit_wait_seconds": 1.25, "requests_sent": 4})
    assert added == [
        ("proves", 1),
        ("rate_limit_wait_seconds", 0.5),
        ("proves", 1),
        ("rate_limit_wait_seconds", 0.75),
    ]


def test_latency_percentiles_of_recent_answers() -> None:
    recorder = Recorder()
    for latency in (0.1, 0.2, 0.3, 0.4):
        recorder.answered("bulk", "floorsheet", latency, 0)
    assert recorder.latency_percentiles() == pytest.approx((0.25, 0.385))
