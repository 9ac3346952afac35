"""One call per event: the counters behind :class:`~nepse_ray.pool.stats.PoolStats` and the Ray metrics, together.

The coordinator reports what happened (``recorder.answered(lane, endpoint, latency, nbytes)``, ``recorder.retried()``)
and never touches a counter or a metric itself, so the two can never disagree. Counters change at once (a
``stats()`` call sees every event before it); Ray metrics are buffered and handed over by :meth:`Recorder.flush`
on every scaling tick: counts of one kind add up in the buffer, so a tick costs one Ray call per counter and tag
value instead of one per event (each takes about 4 us here, and the request path should not pay for them).

At shutdown the process ends soon after the last answers, before another tick: :meth:`Recorder.flush_at_once`
hands everything buffered to Ray and every later event at once. Ray exports a process's metrics every
``metrics_report_interval_ms`` (10 s by default) and once more when the actor is killed (measured on Ray 2.60:
counts recorded just before ``ray.kill`` reach the node's endpoint within a second even with the 10 s interval), so
the counters end equal to the requests answered.

Adding a figure: a field in :class:`Counts` (and in ``PoolStats``), a row in ``metrics.COORDINATOR``, and one event
method here that updates both.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, deque
from collections.abc import Mapping
from typing import Literal

from nepse_ray.nepse.decoder import DECODER_NAMES
from nepse_ray.nepse.payload import VARIANT_BY_ENDPOINT
from nepse_ray.nepse.site import SiteStatus
from nepse_ray.pool.metrics import PoolMetrics, Tags
from nepse_ray.pool.request import Lane
from nepse_ray.pool.stats_math import percentile

#: Recent latencies kept for the percentiles in PoolStats.
LATENCY_WINDOW = 2048


@dataclasses.dataclass(slots=True)
class Counts:
    """The cumulative counters of a pool; the names are ``PoolStats`` fields."""

    total_tasks_completed: int = 0
    total_errors: int = 0
    refused: int = 0
    retries: int = 0
    timeouts: int = 0
    cache_hits: int = 0
    coalesced: int = 0
    result_bytes: int = 0
    worker_restarts: int = 0
    worker_replacements: int = 0
    scale_up_events: int = 0
    scale_down_events: int = 0
    stale_cleaned: int = 0


class Recorder:
    """Counts events for ``PoolStats`` and feeds the same events to the Ray metrics (when ``metrics`` is given)."""

    __slots__ = ("_at_once", "_latencies", "_metrics", "_observed", "_pending", "counts")

    def __init__(self, metrics: PoolMetrics | None = None) -> None:
        self.counts = Counts()
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._metrics = metrics
        self._pending: Counter[tuple[str, Tags]] = Counter()
        self._observed: list[tuple[str, Tags, float]] = []
        self._at_once = False

    # ---------------------------------------------------------------- requests

    def answered(self, lane: Lane, endpoint: str, latency: float, nbytes: int) -> None:
        """A request for ``endpoint`` was answered successfully after ``latency`` seconds with ``nbytes`` bytes."""
        self._latencies.append(latency)
        self._observe("latency", latency, endpoint=endpoint)
        self._event("total_tasks_completed", "completed", lane=lane)
        self._event("result_bytes", "result_bytes", nbytes)

    def waited(self, lane: Lane, seconds: float) -> None:
        """An attempt of a request in ``lane`` got a worker slot after waiting ``seconds``."""
        self._observe("queue_wait", seconds, lane=lane)

    def failed(self, error: BaseException) -> None:
        """A request was answered with ``error`` (after its retries)."""
        self._event("total_errors", "errors", error=type(error).__name__)

    def refused(self) -> None:
        """A bulk request was refused because ``max_queued`` requests were pending."""
        self._event("refused", "refused")

    def retried(self) -> None:
        self._event("retries", "retries")

    def timed_out(self) -> None:
        self._event("timeouts")

    def cache_hit(self) -> None:
        self._event("cache_hits", "cache_hits")

    def coalesced(self) -> None:
        self._event("coalesced", "coalesced")

    # ---------------------------------------------------------------- workers

    def worker_restarted(self) -> None:
        self._event("worker_restarts", "worker_events", event="restart")

    def worker_replaced(self) -> None:
        self._event("worker_replacements", "worker_events", event="replacement")

    def worker_quarantined(self) -> None:
        self._event(None, "worker_events", event="quarantine")

    def scaled(self, direction: Literal["up", "down"], workers: int) -> None:
        """A scaling decision was carried out: ``workers`` added (``up``) or retired (``down``)."""
        self._event(f"scale_{direction}_events", None)
        self._event(None, "scale_events", workers, direction=direction)

    def stale_cleaned(self, count: int) -> None:
        self._event("stale_cleaned", None, count)

    # ---------------------------------------------------------------- read-outs

    def latency_percentiles(self) -> tuple[float | None, float | None]:
        """The p50 and p95 of recent request latencies, in seconds."""
        latencies = list(self._latencies)
        return percentile(latencies, 50), percentile(latencies, 95)

    def flush(self, workers: Mapping[str, int], queued: Mapping[str, int]) -> None:
        """Hand buffered counts and observations to Ray and set the gauges: workers by state, waiting by lane."""
        if self._metrics is None:
            return
        self._hand_over()
        self._metrics.set("workers", workers)
        self._metrics.set("queue_length", queued)

    def site(self, status: SiteStatus) -> None:
        """Set the gauges of what the pool learned about the site: decoder, healed endpoints, healing requests."""
        if self._metrics is None:
            return
        self._metrics.set("token_decoder", {name: int(name == status.decoder) for name in DECODER_NAMES})
        self._metrics.set("healed_payload_ids", {name: int(name in status.healed) for name in VARIANT_BY_ENDPOINT})
        kinds = {"css-wasm": status.module_fetches, "payload-id": status.payload_heal_requests}
        self._metrics.set("healing_requests", kinds)

    def flush_at_once(self) -> None:
        """From now on hand every event to Ray as it happens (the pool is shutting down), starting with the buffer."""
        self._at_once = True
        self._hand_over()

    def _hand_over(self) -> None:
        if self._metrics is None:
            return
        self._metrics.add(self._pending, self._observed)
        self._pending.clear()
        self._observed.clear()

    def _event(self, counter: str | None, metric: str | None = None, count: int = 1, **tags: str) -> None:
        """Add ``count`` to the ``PoolStats`` counter ``counter`` and to the Ray metric ``metric`` (with ``tags``)."""
        if counter is not None:
            setattr(self.counts, counter, getattr(self.counts, counter) + count)
        if metric is not None and self._metrics is not None and count:
            self._pending[(metric, tuple(tags.items()))] += count
            if self._at_once:
                self._hand_over()

    def _observe(self, histogram: str, value: float, **tags: str) -> None:
        """Observe ``value`` in the Ray histogram ``histogram`` (with ``tags``)."""
        if self._metrics is not None:
            self._observed.append((histogram, tuple(tags.items()), value))
            if self._at_once:
                self._hand_over()
