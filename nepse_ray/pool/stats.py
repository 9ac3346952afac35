"""``PoolStats``: one snapshot of a worker pool, safe to print, log or show in a notebook.

The coordinator builds it on every ``stats()`` call; the facade returns it from ``get_stats()``::

    >>> stats = PoolStats(pool_name="demo", total_workers=2, busy_workers=1, idle_workers=1)
    >>> stats.utilisation
    0.5

It carries counts, worker ids, node ids and timings only: never a token, a salt or a payload id.
"""

from __future__ import annotations

import html

from pydantic import BaseModel, ConfigDict, Field


class WorkerStatus(BaseModel):
    """One worker actor as the coordinator last saw it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    worker_id: str
    state: str = Field(default="serving", description="starting, standby, serving, quarantined, draining or retiring.")
    node_id: str | None = Field(default=None, description="Ray node the worker runs on (hex), once it answered.")
    pid: int | None = None
    inflight: int = 0
    healthy: bool = True
    draining: bool = False
    requests: int = Field(default=0, description="Requests this worker finished (successfully or not).")
    restarts: int = Field(default=0, description="Times Ray restarted this worker's process.")


class PoolStats(BaseModel):
    """A snapshot of the pool: the original design's seven fields first, then what a Ray pool adds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pool_name: str = ""
    total_workers: int = Field(default=0, description="Started workers: busy + idle + quarantined.")
    busy_workers: int = Field(default=0, description="Healthy workers with a request in flight.")
    idle_workers: int = Field(default=0, description="Healthy workers with nothing in flight.")
    queue_length: int = Field(default=0, description="Requests waiting for a free worker slot, both lanes.")
    pending_tasks: int = Field(default=0, description="Requests accepted, not yet answered.")
    total_tasks_completed: int = Field(default=0, description="Requests answered successfully.")
    total_errors: int = Field(default=0, description="Requests answered with an error after their retries.")

    closing: bool = Field(default=False, description="Shutting down: accepted requests finish, new ones are refused.")
    queue_by_lane: dict[str, int] = Field(default_factory=dict, description="Requests waiting, by lane.")
    refused: int = Field(default=0, description="Bulk requests refused with PoolBusyError (max_queued reached).")
    retries: int = Field(default=0, description="Attempts repeated after a retryable error or a lost worker.")
    timeouts: int = Field(default=0, description="Attempts abandoned after task_timeout.")
    worker_restarts: int = Field(default=0, description="Worker processes Ray restarted in place.")
    worker_replacements: int = Field(default=0, description="Dead workers replaced by new actors.")
    quarantined_workers: int = Field(default=0, description="Workers that stopped answering and are being re-pinged.")
    starting_workers: int = Field(default=0, description="Workers created but not yet answering.")
    scale_up_events: int = 0
    scale_down_events: int = 0
    stale_cleaned: int = Field(default=0, description="Abandoned queue entries and wedged attempts cleaned up.")
    cache_hits: int = Field(default=0, description="Requests answered from the result cache.")
    coalesced: int = Field(default=0, description="Requests that shared the answer of an identical one in flight.")
    cached_answers: int = Field(default=0, description="Answers held in the result cache now.")
    cache_bytes: int = Field(default=0, description="Bytes those answers take.")
    result_bytes: int = Field(
        default=0, description="Bytes of results the coordinator passed on unopened (rows never become objects there)."
    )
    session_calls: int = Field(
        default=0,
        description="Session method calls (token, salts, market id...) this driver sent straight to a worker.",
    )
    replica_calls: int = Field(
        default=0,
        description="Calls for small cached answers this driver sent to the pool's replica actor, which gave them "
        "from its copies (not counted in cache_hits).",
    )
    token_decoder: str = Field(
        default="builtin", description="The token decoder in use: builtin, site-table or site-module (issue #22)."
    )
    token_module_fetches: int = Field(default=0, description="Fetches of the site's css.wasm by the coordinator.")
    healed_payload_ids: dict[str, str] = Field(
        default_factory=dict, description="Signed endpoints whose payload id healed: the variant and day term found."
    )
    payload_heal_requests: int = Field(default=0, description="Extra requests spent searching payload ids.")
    requests_per_worker: dict[str, int] = Field(default_factory=dict)
    latency_p50: float | None = Field(default=None, description="Median seconds from accept to answer (recent calls).")
    latency_p95: float | None = Field(default=None, description="95th percentile of the same, in seconds.")
    workers: tuple[WorkerStatus, ...] = ()

    @property
    def settled(self) -> bool:
        """Whether the pool has most of its strength: a worker serves, and no fewer serve than are starting or
        quarantined (a pull's retry round waits for this after its coordinator or its workers were lost)."""
        serving = sum(1 for worker in self.workers if worker.state == "serving")
        return serving > 0 and serving >= self.starting_workers + self.quarantined_workers

    @property
    def utilisation(self) -> float:
        """Busy workers as a fraction of started workers (0.0 for an empty pool)."""
        return self.busy_workers / self.total_workers if self.total_workers else 0.0

    def _rows(self) -> list[tuple[str, str]]:
        return [
            ("workers", f"{self.total_workers} ({self.busy_workers} busy, {self.idle_workers} idle, "
                        f"{self.quarantined_workers} quarantined, {self.starting_workers} starting)"),
            ("queue / pending", f"{self.queue_length} / {self.pending_tasks}" + _lanes(self.queue_by_lane)),
            ("completed / errors / refused", f"{self.total_tasks_completed} / {self.total_errors} / {self.refused}"),
            ("cache hits / coalesced", f"{self.cache_hits} / {self.coalesced} "
                                       f"({self.cached_answers} cached, {self.cache_bytes / 2**20:.1f} MiB)"),
            ("direct session / replica calls", f"{self.session_calls} / {self.replica_calls}"),
            ("retries / timeouts", f"{self.retries} / {self.timeouts}"),
            ("restarts / replacements", f"{self.worker_restarts} / {self.worker_replacements}"),
            ("scale up / down", f"{self.scale_up_events} / {self.scale_down_events}"),
            ("latency p50 / p95", f"{_seconds(self.latency_p50)} / {_seconds(self.latency_p95)}"),
            ("token decoder", f"{self.token_decoder} ({self.token_module_fetches} css.wasm fetches)"),
            ("healed payload ids", ", ".join(f"{k}: {v}" for k, v in sorted(self.healed_payload_ids.items()))
                                   + f" ({self.payload_heal_requests} requests)" if self.healed_payload_ids else "-"),
            ("requests per worker", ", ".join(f"{k}={v}" for k, v in sorted(self.requests_per_worker.items())) or "-"),
        ]  # fmt: skip

    def __repr__(self) -> str:
        return (
            f"PoolStats(pool={self.pool_name!r}, workers={self.total_workers}, busy={self.busy_workers}, "
            f"idle={self.idle_workers}, queue={self.queue_length}, pending={self.pending_tasks}, "
            f"completed={self.total_tasks_completed}, errors={self.total_errors}, retries={self.retries}, "
            f"p50={_seconds(self.latency_p50)}, p95={_seconds(self.latency_p95)})"
        )

    def __str__(self) -> str:
        rows = self._rows()
        width = max(len(label) for label, _ in rows)
        return "\n".join([f"NEPSE pool {self.pool_name!r}"] + [f"  {label:<{width}}  {value}" for label, value in rows])

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
            for label, value in self._rows()
        )
        caption = html.escape(f"NEPSE pool {self.pool_name!r}")
        return f"<table class='nepse-pool-stats'><caption>{caption}</caption>{body}</table>"


def _lanes(queued: dict[str, int]) -> str:
    return f" ({', '.join(f'{lane} {count}' for lane, count in queued.items())})" if queued else ""


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
