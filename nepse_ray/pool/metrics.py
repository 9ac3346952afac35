"""Ray metrics of a worker pool, for the Ray dashboard and Prometheus: one table of names, one object that holds them.

Ray exports them on every node's metrics endpoint with a ``ray_`` prefix (counters gain ``_total``), e.g.
``ray_nepse_pool_workers{pool="nepse-ray",state="serving"}``. Every series carries the ``pool`` tag so several
pools on one cluster stay apart; every other tag takes a bounded set of values (lanes, worker states, error
classes, event kinds). Build :class:`PoolMetrics` inside the coordinator actor: Ray drops default tags when a
metric object is pickled. Adding a metric is one row in :data:`COUNTERS` or :data:`GAUGES` and one call in
``recorder.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ray.util.metrics import Counter, Gauge, Histogram

#: Latency buckets in seconds: a cached answer takes milliseconds, a rate-limited page up to a few seconds.
LATENCY_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]

Tags = tuple[tuple[str, str], ...]

#: Counters: key -> (Prometheus name without the ``ray_`` prefix, description, tag keys besides ``pool``).
COUNTERS: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "completed": ("nepse_pool_tasks_completed", "Requests answered successfully, by lane.", ("lane",)),
    "errors": ("nepse_pool_errors", "Requests answered with an error, by error class.", ("error",)),
    "refused": ("nepse_pool_refused", "Bulk requests refused with PoolBusyError (max_queued reached).", ()),
    "retries": ("nepse_pool_retries", "Attempts repeated by the coordinator.", ()),
    "cache_hits": ("nepse_pool_cache_hits", "Requests answered from the pool's result cache.", ()),
    "coalesced": ("nepse_pool_coalesced", "Requests that shared the answer of an identical one in flight.", ()),
    "result_bytes": ("nepse_pool_result_bytes", "Bytes of results passed on by the coordinator.", ()),
    "worker_events": ("nepse_pool_worker_events", "Worker restarts, replacements and quarantines.", ("event",)),
    "scale_events": ("nepse_pool_scale_events", "Workers added or retired by scaling, by direction.", ("direction",)),
}
#: Gauges: key -> (name, description, tag keys besides ``pool``).
GAUGES: Mapping[str, tuple[str, str, tuple[str, ...]]] = {
    "workers": ("nepse_pool_workers", "Worker actors of the pool by state.", ("state",)),
    "queue_length": ("nepse_pool_queue_length", "Requests waiting for a worker slot, by lane.", ("lane",)),
}


class PoolMetrics:
    """The pool's Ray metric objects; the :class:`~nepse_ray.pool.recorder.Recorder` feeds them in batches."""

    __slots__ = ("_counters", "_gauges", "_latency")

    def __init__(self, pool_name: str) -> None:
        tags = {"pool": pool_name}
        self._counters = {key: Counter(name, text, ("pool", *keys)) for key, (name, text, keys) in COUNTERS.items()}
        self._gauges = {key: Gauge(name, text, ("pool", *keys)) for key, (name, text, keys) in GAUGES.items()}
        self._latency = Histogram(
            "nepse_pool_latency_seconds",
            "Seconds from accepting a request to answering it.",
            boundaries=LATENCY_BOUNDARIES,
            tag_keys=("pool",),
        )
        for metric in (*self._counters.values(), *self._gauges.values(), self._latency):
            metric.set_default_tags(tags)

    def add(self, counts: Mapping[tuple[str, Tags], int], latencies: list[float]) -> None:
        """Add buffered counts (by counter key and tags) and observe buffered latencies."""
        for (key, tags), count in counts.items():
            self._counters[key].inc(count, tags=dict(tags))
        for latency in latencies:
            self._latency.observe(latency)

    def set(self, key: str, values: Mapping[str, int]) -> None:
        """Set gauge ``key`` for each value of its one tag (a state or a lane)."""
        (tag,) = GAUGES[key][2]
        for value, count in values.items():
            self._gauges[key].set(count, tags={tag: value})

    def all(self) -> list[Counter | Gauge | Histogram]:
        """Every metric object (for a check that Ray accepted each name)."""
        return [*self._counters.values(), *self._gauges.values(), self._latency]
