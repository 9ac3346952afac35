"""Ray metrics of a worker pool, for the Ray dashboard and Prometheus.

Ray exports them on every node's metrics endpoint with a ``ray_`` prefix (counters gain ``_total``), e.g.
``ray_nepse_pool_workers{pool="nepse-ray",state="busy"}``. Every series carries the ``pool`` tag so several pools
on one cluster stay apart. Build :class:`PoolMetrics` inside the coordinator actor: Ray drops default tags when a
metric object is pickled.
"""

from __future__ import annotations

from ray.util.metrics import Counter, Gauge, Histogram

from nepse_ray.pool.stats import PoolStats

#: Latency buckets in seconds: a cached answer takes milliseconds, a rate-limited page up to a few seconds.
LATENCY_BOUNDARIES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]


class PoolMetrics:
    """Gauges of the pool's shape and counters of what happened to its requests.

    Per-request figures (completions, their latencies, retries) are buffered and handed to Ray on the next
    :meth:`snapshot`: recording a Ray metric costs tens of microseconds inside an actor, too much for the hot path.
    """

    __slots__ = (
        "_errors",
        "_latencies",
        "_latency",
        "_queue",
        "_retries",
        "_retries_pending",
        "_scale_events",
        "_tasks",
        "_worker_events",
        "_workers",
    )

    def __init__(self, pool_name: str) -> None:
        tags = {"pool": pool_name}
        self._workers = Gauge("nepse_pool_workers", "Worker actors of the pool by state.", tag_keys=("pool", "state"))
        self._queue = Gauge("nepse_pool_queue_length", "Requests waiting for a free worker slot.", tag_keys=("pool",))
        self._tasks = Counter("nepse_pool_tasks_completed", "Requests answered successfully.", tag_keys=("pool",))
        self._errors = Counter(
            "nepse_pool_errors", "Requests answered with an error, by error class.", tag_keys=("pool", "error")
        )
        self._retries = Counter("nepse_pool_retries", "Attempts repeated by the coordinator.", tag_keys=("pool",))
        self._worker_events = Counter(
            "nepse_pool_worker_events", "Worker restarts, replacements and quarantines.", tag_keys=("pool", "event")
        )
        self._scale_events = Counter(
            "nepse_pool_scale_events", "Scaling decisions carried out, by direction.", tag_keys=("pool", "direction")
        )
        self._latency = Histogram(
            "nepse_pool_latency_seconds",
            "Seconds from accepting a request to answering it.",
            boundaries=LATENCY_BOUNDARIES,
            tag_keys=("pool",),
        )
        self._latencies: list[float] = []
        self._retries_pending = 0
        for metric in (
            self._workers,
            self._queue,
            self._tasks,
            self._errors,
            self._retries,
            self._worker_events,
            self._scale_events,
            self._latency,
        ):
            metric.set_default_tags(tags)

    def completed(self, latency: float) -> None:
        self._latencies.append(latency)

    def failed(self, error: BaseException) -> None:
        self._errors.inc(tags={"error": type(error).__name__})

    def retried(self) -> None:
        self._retries_pending += 1

    def worker_event(self, event: str) -> None:
        """``event`` is one of ``restart``, ``replacement``, ``quarantine``."""
        self._worker_events.inc(tags={"event": event})

    def scaled(self, direction: str, count: int) -> None:
        """``direction`` is ``up`` or ``down``; ``count`` workers were added or retired."""
        self._scale_events.inc(count, tags={"direction": direction})

    def snapshot(self, stats: PoolStats) -> None:
        """Hand the buffered figures to Ray and set the gauges from ``stats`` (called on every scaling tick)."""
        if self._latencies:
            self._tasks.inc(len(self._latencies))
            for latency in self._latencies:
                self._latency.observe(latency)
            self._latencies.clear()
        if self._retries_pending:
            self._retries.inc(self._retries_pending)
            self._retries_pending = 0
        counts = {
            "busy": stats.busy_workers,
            "idle": stats.idle_workers,
            "quarantined": stats.quarantined_workers,
            "starting": stats.starting_workers,
        }
        for state, count in counts.items():
            self._workers.set(count, tags={"state": state})
        self._queue.set(stats.queue_length)
