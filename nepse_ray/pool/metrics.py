"""Ray metrics of a worker pool, for the Ray dashboard, Prometheus and Grafana: the tables of every metric, and the
objects that record them.

Ray exports them on every node's metrics endpoint with a ``ray_`` prefix; counters gain ``_total`` and histograms
``_bucket``/``_sum``/``_count`` (:attr:`MetricSpec.exported`), e.g.
``ray_nepse_pool_workers{pool="nepse-ray",state="serving"}``. Every series carries the ``pool`` tag so several
pools on one cluster stay apart; every other tag takes a bounded set of values (lanes, worker states, error
classes, event kinds, catalogue endpoint names). Ray adds its own labels, among them ``WorkerId`` (one series per
process): sum over them.

Two processes record:

* the **coordinator** (:data:`COORDINATOR`, :class:`PoolMetrics`), fed in batches by
  :class:`~nepse_ray.pool.recorder.Recorder`: requests, errors, queues, workers, scaling, cache;
* each **worker** (:data:`WORKER`, :class:`WorkerMetrics`): token proves and rate-limiter waits, which happen
  inside the worker's client. Recording them there is exact (every prove and every wait, including those of a worker
  that is killed: Ray flushes a process's metrics when it is killed) and costs no message; the alternative,
  counters the coordinator collects from worker pings, would need a ping per worker per tick and would lose what a
  worker did since its last ping when it dies.

Build the objects inside the actor that records them: Ray drops default tags when a metric object is pickled.
Adding a metric is one row in a table and one call in ``recorder.py`` (or the worker); the README, the Grafana
dashboard's test and the head-node test read the same tables.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping
from typing import Literal

from ray.util.metrics import Counter, Gauge, Histogram

Kind = Literal["counter", "gauge", "histogram"]
#: Extra tags of one recording, besides ``pool``: ((key, value), ...).
Tags = tuple[tuple[str, str], ...]
RayMetric = Counter | Gauge | Histogram

#: Request latency buckets in seconds: a cached answer takes milliseconds, a rate-limited page up to a few seconds.
LATENCY_BOUNDARIES = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Queue wait buckets in seconds: none when a slot is free, minutes behind a large bulk backlog.
QUEUE_WAIT_BOUNDARIES = (0.001, 0.005, 0.025, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclasses.dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric: its name without the ``ray_`` prefix, type, meaning and tags besides ``pool``."""

    name: str
    kind: Kind
    description: str
    tags: tuple[str, ...] = ()
    boundaries: tuple[float, ...] = ()

    @property
    def exported(self) -> tuple[str, ...]:
        """The series names Prometheus shows for this metric."""
        base = f"ray_{self.name}"
        if self.kind == "counter":
            return (f"{base}_total",)
        if self.kind == "histogram":
            return (f"{base}_bucket", f"{base}_sum", f"{base}_count")
        return (base,)

    def build(self, pool_name: str) -> RayMetric:
        """The Ray metric object, tagged with ``pool_name`` by default."""
        keys = ("pool", *self.tags)
        metric: RayMetric
        if self.kind == "counter":
            metric = Counter(self.name, self.description, keys)
        elif self.kind == "gauge":
            metric = Gauge(self.name, self.description, keys)
        else:
            metric = Histogram(self.name, self.description, list(self.boundaries), keys)
        metric.set_default_tags({"pool": pool_name})
        return metric


def _counter(name: str, description: str, *tags: str) -> MetricSpec:
    return MetricSpec(name, "counter", description, tags)


#: What the coordinator records, by the recorder's key.
COORDINATOR: Mapping[str, MetricSpec] = {
    "completed": _counter("nepse_pool_tasks_completed", "Requests answered successfully, by lane.", "lane"),
    "errors": _counter("nepse_pool_errors", "Requests answered with an error (after retries), by class.", "error"),
    "refused": _counter("nepse_pool_refused", "Bulk requests refused with PoolBusyError (max_queued reached)."),
    "retries": _counter("nepse_pool_retries", "Attempts repeated by the coordinator."),
    "cache_hits": _counter("nepse_pool_cache_hits", "Requests answered from the pool's result cache."),
    "coalesced": _counter("nepse_pool_coalesced", "Requests that shared the answer of an identical one in flight."),
    "result_bytes": _counter("nepse_pool_result_bytes", "Bytes of results passed on by the coordinator."),
    "worker_events": _counter(
        "nepse_pool_worker_events", "Worker restarts, replacements and quarantines, by event.", "event"
    ),
    "scale_events": _counter(
        "nepse_pool_scale_events", "Workers added or retired by scaling, by direction.", "direction"
    ),
    "workers": MetricSpec("nepse_pool_workers", "gauge", "Worker actors of the pool by state.", ("state",)),
    "queue_length": MetricSpec(
        "nepse_pool_queue_length", "gauge", "Requests waiting for a worker slot, by lane.", ("lane",)
    ),
    "latency": MetricSpec(
        "nepse_pool_latency_seconds",
        "histogram",
        "Seconds from accepting a request to answering it successfully, by endpoint.",
        ("endpoint",),
        LATENCY_BOUNDARIES,
    ),
    "token_decoder": MetricSpec(
        "nepse_pool_token_decoder",
        "gauge",
        "1 for the token decoder in use, 0 for the others, by decoder.",
        ("decoder",),
    ),
    "healed_payload_ids": MetricSpec(
        "nepse_pool_healed_payload_ids",
        "gauge",
        "1 for a signed endpoint whose payload id healed, by endpoint.",
        ("endpoint",),
    ),
    "healing_requests": MetricSpec(
        "nepse_pool_healing_requests",
        "gauge",
        "Extra requests spent healing since the pool started, by kind.",
        ("kind",),
    ),
    "queue_wait": MetricSpec(
        "nepse_pool_queue_wait_seconds",
        "histogram",
        "Seconds an attempt waited in its lane for a worker slot, by lane.",
        ("lane",),
        QUEUE_WAIT_BOUNDARIES,
    ),
}

#: What each worker records, by the key of its client's ``stats()``.
WORKER: Mapping[str, MetricSpec] = {
    "proves": _counter("nepse_pool_token_proves", "Tokens proved by the pool's workers (one handshake each)."),
    "rate_limit_wait_seconds": _counter(
        "nepse_pool_rate_limit_wait_seconds", "Seconds worker requests waited for their token's rate limiter."
    ),
}


class PoolMetrics:
    """The coordinator's Ray metric objects; the :class:`~nepse_ray.pool.recorder.Recorder` feeds them in batches."""

    __slots__ = ("_counters", "_gauges", "_histograms")

    def __init__(self, pool_name: str) -> None:
        built = {key: spec.build(pool_name) for key, spec in COORDINATOR.items()}
        self._counters = {key: metric for key, metric in built.items() if isinstance(metric, Counter)}
        self._gauges = {key: metric for key, metric in built.items() if isinstance(metric, Gauge)}
        self._histograms = {key: metric for key, metric in built.items() if isinstance(metric, Histogram)}

    def add(self, counts: Mapping[tuple[str, Tags], float], observations: Iterable[tuple[str, Tags, float]]) -> None:
        """Add buffered counts (by counter key and tags) and observe buffered values (histogram key, tags, value)."""
        for (key, tags), count in counts.items():
            self._counters[key].inc(count, tags=dict(tags))
        for key, tags, value in observations:
            self._histograms[key].observe(value, tags=dict(tags))

    def set(self, key: str, values: Mapping[str, int]) -> None:
        """Set gauge ``key`` for each value of its one tag (a state or a lane)."""
        (tag,) = COORDINATOR[key].tags
        for value, count in values.items():
            self._gauges[key].set(count, tags={tag: value})

    def all(self) -> list[RayMetric]:
        """Every metric object (for a check that Ray accepted each name)."""
        return [*self._counters.values(), *self._gauges.values(), *self._histograms.values()]


class WorkerMetrics:
    """One worker's token proves and rate-limiter waits as Ray counters, recorded in the worker's own process.

    ``update(client.stats())`` after each request adds what changed since the previous update: one cheap
    comparison per counter, and a Ray call only for a counter that moved. Safe to call from the worker's threads.
    """

    __slots__ = ("_counters", "_lock", "_seen")

    def __init__(self, pool_name: str) -> None:
        built = {key: spec.build(pool_name) for key, spec in WORKER.items()}
        self._counters = {key: metric for key, metric in built.items() if isinstance(metric, Counter)}
        self._seen = dict.fromkeys(WORKER, 0.0)
        self._lock = threading.Lock()

    def update(self, client_stats: Mapping[str, float]) -> None:
        with self._lock:
            for key, counter in self._counters.items():
                delta = client_stats[key] - self._seen[key]
                if delta > 0:
                    counter.inc(delta)
                    self._seen[key] = client_stats[key]

    def all(self) -> list[RayMetric]:
        return list(self._counters.values())
