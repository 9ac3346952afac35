"""PoolStats: the original design's fields and the pool's additions, readable in a terminal and a notebook."""

from __future__ import annotations

import pytest

from nepse_ray.pool.stats import PoolStats, WorkerStatus

ORIGINAL_FIELDS = (
    "total_workers",
    "busy_workers",
    "idle_workers",
    "queue_length",
    "pending_tasks",
    "total_tasks_completed",
    "total_errors",
)
POOL_FIELDS = (
    "retries",
    "worker_restarts",
    "worker_replacements",
    "scale_up_events",
    "scale_down_events",
    "requests_per_worker",
    "latency_p50",
    "latency_p95",
    "timeouts",
    "quarantined_workers",
)


def sample() -> PoolStats:
    return PoolStats(
        pool_name="demo",
        total_workers=3,
        busy_workers=2,
        idle_workers=1,
        queue_length=5,
        pending_tasks=8,
        total_tasks_completed=247,
        total_errors=2,
        requests_per_worker={"w1": 120, "w2": 127},
        latency_p50=0.0123,
        latency_p95=1.5,
        workers=(WorkerStatus(worker_id="w1", node_id="ab12", pid=4242, inflight=1),),
    )


def test_original_and_pool_fields_are_present() -> None:
    assert set(ORIGINAL_FIELDS + POOL_FIELDS) <= set(PoolStats.model_fields)
    assert PoolStats().total_workers == 0 and PoolStats().latency_p50 is None


def test_stats_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        sample().total_errors = 0


def test_text_forms_are_readable() -> None:
    stats = sample()
    assert repr(stats).startswith("PoolStats(pool='demo', workers=3, busy=2, idle=1, queue=5, pending=8")
    text = str(stats)
    assert "3 (2 busy, 1 idle, 0 quarantined, 0 starting)" in text
    assert "247 / 2" in text and "12.3 ms / 1.50 s" in text and "w1=120, w2=127" in text
    assert stats.utilisation == pytest.approx(2 / 3)


def test_html_form_is_a_table() -> None:
    html = sample()._repr_html_()
    assert html.startswith("<table") and html.endswith("</table>")
    assert html.count("<tr>") == len(sample()._rows())
    assert "&#x27;demo&#x27;" in html  # escaped


def test_a_pool_is_settled_when_most_of_its_workers_serve() -> None:
    def pool(*states: str, starting: int = 0, quarantined: int = 0) -> PoolStats:
        workers = tuple(WorkerStatus(worker_id=f"w{n}", state=state) for n, state in enumerate(states))
        return PoolStats(workers=workers, starting_workers=starting, quarantined_workers=quarantined)

    assert pool("serving", "serving", "quarantined", quarantined=1).settled
    assert not pool("starting", "starting", starting=2).settled  # a restarted coordinator's new workers
    assert not pool("serving", "quarantined", "quarantined", quarantined=2).settled  # a storm of restarts
    assert not pool().settled
