"""Lanes, fairness between callers and the bulk lane's bound, on the coordinator driven through fake workers."""

from __future__ import annotations

import asyncio

import pytest
from pool_fakes import request, run, started, stats_where, until

from nepse_ray.pool.errors import PoolBusyError


def test_an_interactive_request_takes_the_next_free_slot_before_the_bulk_backlog() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1)
        (worker,) = launcher.workers
        bulk = [asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}))) for p in range(20)]
        await stats_where(coordinator, lambda s: s.queue_by_lane == {"interactive": 0, "bulk": 19})
        interactive = asyncio.create_task(coordinator.call(request("market_open", {}, lane="interactive")))
        await stats_where(coordinator, lambda s: s.queue_by_lane["interactive"] == 1)

        worker.calls[0].answer("page 0")  # the one slot frees up ...
        await until(lambda: len(worker.calls) == 2)
        assert worker.calls[1].name == "market_open"  # ... and goes to the interactive request
        worker.calls[1].answer("open")
        assert await interactive == "open"
        assert coordinator.stats().queue_by_lane == {"interactive": 0, "bulk": 18}  # the next bulk page runs now
        for task in bulk:
            task.cancel()

    run(scenario)


def test_callers_take_turns_within_a_lane() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1)
        (worker,) = launcher.workers
        tasks = [
            asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}, caller="big"))) for p in range(10)
        ]
        await stats_where(coordinator, lambda s: s.queue_length == 9)
        tasks += [
            asyncio.create_task(coordinator.call(request("today_price", {"page": p}, caller="small"))) for p in range(2)
        ]
        await stats_where(coordinator, lambda s: s.queue_length == 11)

        for served in range(1, 6):
            worker.calls[-1].answer("done")
            await until(lambda served=served: len(worker.calls) == served + 1)  # type: ignore[misc]
        order = [(call.name, call.args[1]["page"]) for call in worker.calls]
        assert order == [
            ("floorsheet", 0),  # running when the small caller arrived
            ("floorsheet", 1),
            ("today_price", 0),
            ("floorsheet", 2),
            ("today_price", 1),  # the small caller's second page, not after the big caller's 10
            ("floorsheet", 3),
        ]
        for task in tasks:
            task.cancel()

    run(scenario)


def test_the_bulk_lane_refuses_beyond_max_queued_and_the_interactive_lane_does_not() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1, max_queued=3)
        held = [asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}))) for p in range(3)]
        await stats_where(coordinator, lambda s: s.pending_tasks == 3)

        with pytest.raises(PoolBusyError, match="max_queued"):
            await coordinator.call(request("floorsheet", {"page": 3}))
        interactive = asyncio.create_task(coordinator.call(request("market_open", {}, lane="interactive")))
        await stats_where(coordinator, lambda s: s.pending_tasks == 4)
        stats = coordinator.stats()
        assert (stats.refused, stats.total_errors) == (1, 0)

        launcher.open_calls()[0].answer("page 0")  # one bulk request answered: room for one more
        assert await held[0] == "page 0"
        later = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 4})))
        await stats_where(coordinator, lambda s: s.pending_tasks == 4)
        assert not later.done()
        for task in (*held[1:], interactive, later):
            task.cancel()

    run(scenario)
