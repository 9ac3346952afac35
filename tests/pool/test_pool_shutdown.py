"""Shutdown on the coordinator, driven through fake workers: what drains, what fails, and when."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pool_fakes import request, run, started, stats_where, until

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.pool.errors import PoolShutdownError

#: A retry that comes due a little later, so shutdown finds the request asleep in its backoff.
BACKOFF: dict[str, Any] = {"backoff_base": 0.05, "backoff_cap": 0.05}


def test_drain_finishes_queued_requests_and_retries_that_come_due_while_draining() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1, max_retries=1, **BACKOFF)
        (worker,) = launcher.workers
        retried = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 0})))
        queued = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 1})))
        await until(lambda: len(worker.calls) == 1)
        worker.calls[0].fail(NepseServerError("502", status=502))  # page 0 sleeps in its backoff
        await until(lambda: len(worker.calls) == 2)

        shutdown = asyncio.create_task(coordinator.shutdown(drain=True))
        await stats_where(coordinator, lambda s: s.closing and s.retries == 1)
        with pytest.raises(PoolShutdownError):  # nothing new is accepted while draining
            await coordinator.call(request("floorsheet", {"page": 2}))
        worker.calls[1].answer("page 1")
        await until(lambda: len(worker.calls) == 3)  # the retry came due during the drain and ran
        worker.calls[2].answer("page 0")

        assert (await retried, await queued) == ("page 0", "page 1")
        stats = await shutdown
        assert (stats.total_tasks_completed, stats.total_errors, stats.total_workers) == (2, 0, 0)
        assert launcher.alive() == []

    run(scenario)


def test_drain_is_bounded_by_drain_timeout_then_fails_what_is_left() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1)
        wedged = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 0})))
        waiting = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 1})))
        await until(lambda: len(launcher.open_calls()) == 1)  # the worker never answers

        stats = await coordinator.shutdown(drain=True, drain_timeout=0.05)

        for task in (wedged, waiting):
            with pytest.raises(PoolShutdownError):
                await task
        assert stats.total_errors == 2 and launcher.alive() == []

    run(scenario)


def test_without_drain_backoff_sleepers_fail_at_once() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=3)
        sleeper = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 0})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].fail(NepseServerError("503", status=503, retry_after=50.0))
        await stats_where(coordinator, lambda s: s.retries == 1)  # asleep for the next 50 s

        await coordinator.shutdown(drain=False)

        assert sleeper.done()
        with pytest.raises(PoolShutdownError):
            await sleeper

    run(scenario)
