"""Shared results on the coordinator, driven through fake workers: coalescing identical requests, and the cache."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from nepse_fakes import FakeClock
from pool_fakes import request, run, started, stats_where, until

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.nepse.payload import NEPAL_TZ
from nepse_ray.pool.wire import Wire

SHARED: dict[str, Any] = {"coalesce": True}


def wire(name: str, body: bytes = b"{}") -> Wire:
    return Wire(name, "model", body)


def test_identical_requests_in_flight_share_one_worker_call() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(**SHARED)
        callers = ["a", "b", "c"]
        tasks = [asyncio.create_task(coordinator.call(request("live_market", {}, caller=c))) for c in callers]
        other = asyncio.create_task(coordinator.call(request("live_market", {}, form="raw")))  # another answer
        await until(lambda: len(launcher.open_calls()) == 2)

        live = wire("live_market", b"[1]")
        launcher.open_calls()[0].answer(live)
        launcher.open_calls()[0].answer(wire("live_market", b"raw"))

        assert [await task for task in tasks] == [live, live, live]
        assert (await other).payload == b"raw"
        stats = coordinator.stats()
        assert (stats.coalesced, stats.total_tasks_completed, stats.cache_hits) == (2, 4, 0)
        assert stats.result_bytes == 3 * 3 + 3  # each caller was answered with the bytes

    run(scenario)


def test_a_failure_reaches_every_sharer_and_is_not_kept() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=0, **SHARED)
        first = asyncio.create_task(coordinator.call(request("market_open", {})))
        second = asyncio.create_task(coordinator.call(request("market_open", {}, caller="other")))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].fail(NepseServerError("502", status=502))
        for task in (first, second):
            with pytest.raises(NepseServerError):
                await task

        third = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(launcher.open_calls()) == 1)  # errors are never cached: asked again
        launcher.open_calls()[0].answer(wire("market_open"))
        assert (await third).endpoint == "market_open"
        assert coordinator.stats().total_errors == 2

    run(scenario)


def test_a_sharer_that_leaves_does_not_cancel_the_others() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(**SHARED)
        leaving = asyncio.create_task(coordinator.call(request("live_market", {})))
        staying = asyncio.create_task(coordinator.call(request("live_market", {}, caller="b")))
        await until(lambda: len(launcher.open_calls()) == 1)
        leaving.cancel()
        await asyncio.sleep(0)
        launcher.open_calls()[0].answer(wire("live_market"))
        assert (await staying).endpoint == "live_market"

    run(scenario)


def test_when_every_sharer_leaves_the_request_is_withdrawn() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1, **SHARED)
        busy = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 9})))
        await until(lambda: len(launcher.open_calls()) == 1)
        sharers = [asyncio.create_task(coordinator.call(request("live_market", {}, caller=c))) for c in "ab"]
        await stats_where(coordinator, lambda s: s.queue_length == 1 and s.coalesced == 1)
        for task in sharers:
            task.cancel()
        stats = await stats_where(coordinator, lambda s: s.queue_length == 0)
        assert stats.stale_cleaned == 1
        launcher.open_calls()[0].answer(wire("floorsheet"))
        await busy
        assert [call.name for call in launcher.workers[0].calls] == ["floorsheet"]  # never sent

    run(scenario)


def test_an_interactive_caller_joining_a_queued_bulk_request_moves_it_ahead() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_workers=1, inflight_per_worker=1, **SHARED)
        (worker,) = launcher.workers
        backlog = [asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}))) for p in range(10)]
        shared_bulk = asyncio.create_task(coordinator.call(request("security_list", {})))
        await stats_where(coordinator, lambda s: s.queue_length == 10)
        interactive = asyncio.create_task(coordinator.call(request("security_list", {}, lane="interactive")))
        await stats_where(coordinator, lambda s: s.queue_by_lane == {"interactive": 1, "bulk": 9})

        worker.calls[0].answer(wire("floorsheet"))
        await until(lambda: len(worker.calls) == 2)
        assert worker.calls[1].name == "security_list"
        assert worker.calls[1].args[3] is True  # urgent at the worker too: it takes the token's next permit first
        worker.calls[1].answer(wire("security_list"))
        assert (await interactive) is (await shared_bulk)
        for task in backlog:
            task.cancel()

    run(scenario)


def clocks(start: dt.datetime) -> tuple[FakeClock, dict[str, Any]]:
    """A monotonic clock and a wall clock in Nepal that move together, for the coordinator's cache."""
    clock = FakeClock(start=0.0)
    return clock, {"clock": clock, "wall": lambda: start + dt.timedelta(seconds=clock.now)}


EVENING = dt.datetime(2026, 11, 30, 18, 0, tzinfo=NEPAL_TZ)


def test_a_cached_answer_is_reused_until_it_expires() -> None:
    async def scenario() -> None:
        clock, core = clocks(EVENING)
        coordinator, launcher = await started(core=core, cache_ttl={"market_summary": 10.0})
        first = asyncio.create_task(coordinator.call(request("market_summary", {})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].answer(wire("market_summary", b"[1]"))
        answer = await first

        clock.advance(9.9)
        assert await coordinator.call(request("market_summary", {}, caller="other")) is answer
        stats = coordinator.stats()
        assert (stats.cache_hits, stats.cached_answers, stats.cache_bytes) == (1, 1, 3)

        clock.advance(0.1)
        again = asyncio.create_task(coordinator.call(request("market_summary", {})))
        await until(lambda: len(launcher.open_calls()) == 1)  # expired: fetched again
        launcher.open_calls()[0].answer(wire("market_summary", b"[2]"))
        assert (await again).payload == b"[2]"
        assert coordinator.stats().cache_hits == 1

    run(scenario)


def test_a_closed_days_page_is_kept_and_todays_is_not() -> None:
    async def scenario() -> None:
        _, core = clocks(EVENING)
        coordinator, launcher = await started(core=core)
        for date in ("2026-11-29", "2026-11-30", "2026-11-29"):
            task = asyncio.create_task(coordinator.call(request("floorsheet", {"business_date": date})))
            await until(lambda task=task: task.done() or len(launcher.open_calls()) == 1)  # type: ignore[misc]
            if not task.done():
                launcher.open_calls()[0].answer(wire("floorsheet", date.encode()))
            assert (await task).payload == date.encode()
        sent = [call.args[1]["business_date"] for call in launcher.workers[0].calls]
        assert sent == ["2026-11-29", "2026-11-30"]  # the past day came from the cache the second time
        assert coordinator.stats().cache_hits == 1

    run(scenario)


def test_session_requests_are_never_shared_or_cached() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(**SHARED)
        tokens = [asyncio.create_task(coordinator.call(request("get_access_token", {}))) for _ in range(2)]
        await until(lambda: len(launcher.open_calls()) == 2)
        for call, token in zip(launcher.open_calls(), ("t1", "t2"), strict=True):
            call.answer(token)
        assert [await task for task in tokens] == ["t1", "t2"]
        assert coordinator.stats().coalesced == 0

    run(scenario)
