"""The coordinator's queue, retries, health handling and scaling loop, driven through fake worker handles.

No Ray cluster: the coordinator runs on a plain asyncio loop with a fake launcher (``pool_fakes.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pool_fakes import FAST, FakeLauncher, request, run, started, stats_where, until
from ray.exceptions import ActorDiedError, ActorUnavailableError, ActorUnschedulableError, RayTaskError

from nepse_ray.nepse.errors import (
    NepseAuthError,
    NepseClientRequestError,
    NepseEmptyPageError,
    NepseRateLimitedError,
    NepseServerError,
)
from nepse_ray.pool.coordinator import Coordinator
from nepse_ray.pool.errors import PoolBusyError, PoolError, PoolShutdownError, TaskTimeoutError
from nepse_ray.pool.memory import DRAINED_BACKLOG
from nepse_ray.pool.options import PoolOptions
from nepse_ray.pool.policy import TokenRefused


def test_retries_go_to_the_front_of_the_queue() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=1, max_workers=1, inflight_per_worker=1, max_retries=1)
        (worker,) = launcher.workers
        first = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(worker.calls) == 1)
        second = asyncio.create_task(coordinator.call(request("market_summary", {})))
        third = asyncio.create_task(coordinator.call(request("disclosures", {})))
        await stats_where(coordinator, lambda s: s.queue_length == 2)

        worker.calls[0].fail(NepseServerError("502", status=502))  # the slot goes to the next in line ...
        await until(lambda: len(worker.calls) == 2)
        await stats_where(coordinator, lambda s: s.queue_length == 2 and s.retries == 1)
        worker.calls[1].answer("summary")  # ... but the retry overtakes the request queued before it failed
        await until(lambda: len(worker.calls) == 3)

        assert [call.name for call in worker.calls] == ["market_open", "market_summary", "market_open"]
        worker.calls[2].answer("open")
        await until(lambda: len(worker.calls) == 4)
        worker.calls[3].answer("disclosures")
        assert list(await asyncio.gather(first, second, third)) == ["open", "summary", "disclosures"]

    run(scenario)


def test_non_retryable_error_is_raised_at_once() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=3)
        task = asyncio.create_task(coordinator.call(request("market_depth", {"security_id": 1})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].fail(NepseClientRequestError("404", status=404))

        with pytest.raises(NepseClientRequestError):
            await task
        stats = coordinator.stats()
        assert (stats.retries, stats.total_errors, stats.total_tasks_completed) == (0, 1, 0)

    run(scenario)


def test_retryable_error_is_raised_once_retries_are_spent() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=2)
        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        for attempt in range(3):
            await until(lambda: len(launcher.open_calls()) == 1)
            launcher.open_calls()[0].fail(NepseServerError(f"502 #{attempt}", status=502))

        with pytest.raises(NepseServerError, match="502 #2"):
            await task
        assert (coordinator.stats()).retries == 2

    run(scenario)


def test_worker_errors_arrive_as_the_original_exception() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=0)
        task = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 3})))
        await until(lambda: len(launcher.open_calls()) == 1)
        cause = NepseEmptyPageError("empty", endpoint="floorsheet")
        wrapped = RayTaskError("NepseWorker.call", "traceback", cause)  # type: ignore[no-untyped-call]
        launcher.open_calls()[0].fail(wrapped.as_instanceof_cause())  # type: ignore[no-untyped-call]

        with pytest.raises(NepseEmptyPageError) as caught:
            await task
        assert type(caught.value) is NepseEmptyPageError
        assert launcher.workers[0].calls[0].args == ("floorsheet", {"page": 3}, "model", False)

    run(scenario)


def test_timed_out_attempt_keeps_its_slot_until_the_worker_answers() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=0, task_timeout=0.01, inflight_per_worker=1)
        with pytest.raises(TaskTimeoutError):
            await coordinator.call(request("market_open", {}))
        stats = coordinator.stats()
        assert (stats.timeouts, stats.busy_workers) == (1, 1)

        launcher.open_calls()[0].answer("late")
        await stats_where(coordinator, lambda s: s.busy_workers == 0 and s.idle_workers == 1)

    run(scenario)


def test_unavailable_worker_is_quarantined_until_it_answers_again() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started()
        (worker,) = launcher.workers
        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(worker.open_calls()) == 1)
        worker.ping_error = ActorUnavailableError("restarting", None)
        worker.open_calls()[0].fail(ActorUnavailableError("restarting", None))
        await stats_where(coordinator, lambda s: s.quarantined_workers == 1 and s.queue_length == 1)

        worker.pid += 1  # Ray restarted the process
        worker.ping_error = None
        await until(lambda: len(worker.open_calls()) == 1, polls=5000)
        worker.open_calls()[0].answer("open")

        assert await task == "open"
        stats = coordinator.stats()
        assert (stats.worker_restarts, stats.quarantined_workers, stats.total_workers) == (1, 0, 1)
        assert len(launcher.workers) == 1  # no stand-in was started for a worker that was only restarting
        assert list(launcher.watches) == [worker.pid]  # its new process is watched, not the old one

    run(scenario)


def test_dead_worker_is_replaced_and_its_task_rerun() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started()
        first = launcher.workers[0]
        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(first.open_calls()) == 1)
        first.open_calls()[0].fail(ActorDiedError())

        await until(lambda: len(launcher.workers) == 2 and len(launcher.workers[1].open_calls()) == 1)
        launcher.workers[1].open_calls()[0].answer("open")
        assert await task == "open"
        assert first.killed
        stats = coordinator.stats()
        assert (stats.worker_replacements, stats.total_workers, stats.total_errors) == (1, 1, 0)
        assert list(launcher.watches) == [launcher.workers[1].pid]  # the dead worker's watch ended with it

        await coordinator.shutdown()
        assert launcher.watches == {}  # and every watch with the pool

    run(scenario)


def test_backlog_scales_up_to_max_and_idle_workers_retire() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=1, max_workers=3, inflight_per_worker=1, idle_timeout=0.05)
        tasks = [asyncio.create_task(coordinator.call(request("market_open", {}))) for _ in range(6)]
        await until(lambda: len(launcher.open_calls()) == 3)
        assert len(launcher.workers) == 3 and (coordinator.stats()).scale_up_events == 1

        while not all(task.done() for task in tasks):
            for call in launcher.open_calls():
                call.answer("open")
            await asyncio.sleep(0.001)
        stats = await stats_where(coordinator, lambda s: s.total_workers == 1)
        await until(lambda: len(launcher.alive()) == 1)
        assert stats.scale_down_events >= 1
        assert sum(stats.requests_per_worker.values()) <= 6 and stats.total_tasks_completed == 6

    run(scenario)


def test_shutdown_without_drain_fails_queued_and_running_requests() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(inflight_per_worker=1, max_workers=1)
        running = asyncio.create_task(coordinator.call(request("market_open", {})))
        queued = asyncio.create_task(coordinator.call(request("market_summary", {})))
        await stats_where(coordinator, lambda s: s.queue_length == 1)

        stats = await coordinator.shutdown(drain=False)

        for task in (running, queued):
            with pytest.raises(PoolShutdownError):
                await task
        assert stats.total_workers == 0 and launcher.alive() == []
        with pytest.raises(PoolShutdownError):
            await coordinator.call(request("market_open", {}))

    run(scenario)


def test_cancelled_callers_leave_no_queue_entries() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(inflight_per_worker=1, max_workers=1)
        running = asyncio.create_task(coordinator.call(request("market_open", {})))
        abandoned = asyncio.create_task(coordinator.call(request("market_summary", {})))
        await stats_where(coordinator, lambda s: s.queue_length == 1)
        abandoned.cancel()

        stats = await stats_where(coordinator, lambda s: s.stale_cleaned == 1)
        assert stats.queue_length == 0 and stats.pending_tasks == 1
        launcher.open_calls()[0].answer("open")
        assert await running == "open"

    run(scenario)


def test_pool_rate_cap_gates_dispatch() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(pool_rate_cap=5.0, inflight_per_worker=4)
        (worker,) = launcher.workers
        tasks = [asyncio.create_task(coordinator.call(request("market_open", {}))) for _ in range(3)]
        await until(lambda: len(worker.calls) == 1)
        stats = coordinator.stats()
        assert stats.queue_length == 2  # free slots, but the pool's permit is spent

        await until(lambda: len(worker.calls) == 3)  # one more every 1/5 s
        for call in worker.open_calls():
            call.answer("open")
        assert list(await asyncio.gather(*tasks)) == ["open"] * 3

    run(scenario)


def test_a_retired_worker_serves_session_calls_until_its_grace_ends() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(
            retire_grace=0.2, min_workers=1, max_workers=2, inflight_per_worker=1, idle_timeout=0.05
        )
        tasks = [asyncio.create_task(coordinator.call(request("market_open", {}))) for _ in range(4)]
        await until(lambda: len(launcher.workers) == 2)
        while not all(task.done() for task in tasks):
            for call in launcher.open_calls():
                call.answer("open")
            await asyncio.sleep(0.001)
        await stats_where(coordinator, lambda s: s.total_workers == 1)

        serving, _ = coordinator.routes()
        retired = [worker for worker in launcher.workers if worker not in serving]
        assert len(serving) == 1 and len(retired) == 1
        assert not retired[0].killed  # still answering facades that listed it a moment ago
        await until(lambda: retired[0].killed)

    run(scenario)


def test_a_retry_after_beyond_max_retry_after_fails_at_once() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(max_retries=3, max_retry_after=60.0)
        task = asyncio.create_task(coordinator.call(request("market_summary", {})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].fail(NepseServerError("503", endpoint="market_summary", status=503, retry_after=120))

        with pytest.raises(NepseRateLimitedError, match=r"asked to wait 120 s .*max_retry_after=60 s") as caught:
            await task
        assert (caught.value.retryable, caught.value.retry_after, caught.value.status) == (False, 120.0, 503)
        stats = coordinator.stats()
        assert (stats.retries, stats.total_errors) == (0, 1)

    run(scenario)


def test_memory_is_handed_back_once_a_large_backlog_has_drained() -> None:
    async def scenario() -> None:
        drained: list[int] = []
        coordinator, launcher = await started(core={"on_drained": lambda: drained.append(1)}, inflight_per_worker=16)

        async def backlog(size: int) -> None:
            tasks = [asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}))) for p in range(size)]
            while not all(task.done() for task in tasks):
                for call in launcher.open_calls():
                    call.answer("page")
                await asyncio.sleep(0.001)

        await backlog(50)
        await stats_where(coordinator, lambda s: s.pending_tasks == 0)
        await asyncio.sleep(0.05)  # a few scaling ticks
        assert drained == []  # a small backlog: nothing worth handing back
        await backlog(DRAINED_BACKLOG)
        await until(lambda: drained == [1])

    run(scenario)


def test_a_worker_whose_node_died_before_placement_is_placed_again_without_an_error() -> None:
    async def scenario() -> None:
        launcher = FakeLauncher()
        launcher.next_ping_error = ActorUnschedulableError("the node specified via NodeAffinity doesn't exist")
        coordinator = Coordinator(PoolOptions(**FAST), launcher)
        await coordinator.start()

        await coordinator.ready(timeout=5)  # no start error: a second worker was placed and serves

        assert len(launcher.workers) == 2 and coordinator.stats().total_workers == 1
        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].answer("open")
        assert await task == "open"

    run(scenario)


def test_an_interactive_call_waits_for_a_slot_at_most_task_timeout() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(
            min_workers=1, max_workers=1, inflight_per_worker=1, task_timeout=0.5, max_retries=0
        )
        stuck = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 1})))  # never answered
        await until(lambda: len(launcher.open_calls()) == 1)
        with pytest.raises(PoolBusyError, match=r"no worker slot came free within task_timeout=0\.5 s"):
            await asyncio.wait_for(coordinator.call(request("market_open", {}, lane="interactive")), 30)
        assert coordinator.stats().queue_length == 0 and len(launcher.open_calls()) == 1
        stuck.cancel()

    run(scenario)


def test_a_token_refused_after_a_fresh_prove_is_tried_on_another_worker_as_a_retry() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=2, max_workers=2, inflight_per_worker=1)
        task = asyncio.create_task(coordinator.call(request("floorsheet", {"page": 1})))
        await until(lambda: len(launcher.open_calls()) == 1)
        revoked = NepseAuthError("floorsheet: HTTP 401 again with a freshly proved token", endpoint="floorsheet")
        launcher.open_calls()[0].fail(TokenRefused(revoked, 0))  # one token's trouble: revoked, replaced ...
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].answer("page 1")  # ... and the next attempt is served
        assert await task == "page 1"
        stats = coordinator.stats()
        assert (stats.retries, stats.total_errors, stats.total_tasks_completed) == (1, 0, 1)

    run(scenario)


def test_a_worker_that_dies_while_it_starts_fails_waiters_with_a_retryable_error() -> None:
    async def scenario() -> None:
        launcher = DyingLauncher()  # every worker killed before its first ping, or too slow to answer it
        coordinator = Coordinator(PoolOptions(**FAST, min_workers=1, max_workers=1), launcher)
        await coordinator.start()
        with pytest.raises(PoolError, match="failed to start") as caught:
            await coordinator.ready(timeout=5)
        assert caught.value.retryable  # a pull reads its pages again in a later round, when workers serve
        await coordinator.shutdown(drain=False)

    run(scenario)


class DyingLauncher(FakeLauncher):
    def start(self, options: PoolOptions, node_id: str | None, number: int) -> Any:
        self.next_ping_error = ActorDiedError()
        return super().start(options, node_id, number)
