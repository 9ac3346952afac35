"""What the coordinator reports to Ray and how its workers are named, driven through fake worker handles (no Ray).

The scaling tick flushes metrics; ``scale_interval=3600`` keeps it from running again after the start, so only the
shutdown can have handed the last answers over.
"""

from __future__ import annotations

import asyncio

from pool_fakes import FAST, FakeLauncher, SpyMetrics, request, run, until
from ray.exceptions import ActorDiedError

from nepse_ray.pool.coordinator import Coordinator
from nepse_ray.pool.options import PoolOptions

COMPLETED_BULK = ("completed", (("lane", "bulk"),))


async def coordinator_with(launcher: FakeLauncher, metrics: SpyMetrics | None = None, **options: object) -> Coordinator:
    coordinator = Coordinator(PoolOptions(**{**FAST, **options}), launcher, metrics=metrics, retire_grace=0.0)
    await coordinator.start()
    await coordinator.ready(timeout=5)
    return coordinator


def test_the_last_answers_before_a_shutdown_reach_the_metrics() -> None:
    async def scenario() -> None:
        spy, launcher = SpyMetrics(), FakeLauncher()
        coordinator = await coordinator_with(launcher, spy, scale_interval=3600.0, inflight_per_worker=4)
        calls = [asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}))) for p in range(4)]
        await until(lambda: len(launcher.open_calls()) == 4)
        for call in launcher.open_calls()[:3]:
            call.answer("page")
        await until(lambda: sum(task.done() for task in calls) == 3)

        closing = asyncio.create_task(coordinator.shutdown(drain=True))
        await until(lambda: spy.added.get(COMPLETED_BULK) == 3)  # the buffer went to Ray as the shutdown began
        launcher.open_calls()[0].answer("page")  # answered while draining: it goes to Ray at once
        stats = await closing

        assert stats.total_tasks_completed == spy.added[COMPLETED_BULK] == 4
        assert [tags for key, tags, _ in spy.observed if key == "latency"] == [(("endpoint", "floorsheet"),)] * 4
        states = ("starting", "standby", "serving", "quarantined", "draining", "retiring")
        assert spy.gauges["workers"] == dict.fromkeys(states, 0)

    run(scenario)


def test_each_attempt_reports_how_long_it_waited_for_a_slot_in_its_lane() -> None:
    async def scenario() -> None:
        spy, launcher = SpyMetrics(), FakeLauncher()
        coordinator = await coordinator_with(launcher, spy, inflight_per_worker=1, max_workers=1)
        first = asyncio.create_task(coordinator.call(request("market_open", {})))
        second = asyncio.create_task(coordinator.call(request("market_summary", {}, lane="interactive")))
        await until(lambda: coordinator.stats().queue_length == 1)
        await asyncio.sleep(0.05)
        launcher.open_calls()[0].answer("open")
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].answer([])
        await asyncio.gather(first, second)
        await coordinator.shutdown()

        waits = {tags: value for key, tags, value in spy.observed if key == "queue_wait"}
        assert set(waits) == {(("lane", "bulk"),), (("lane", "interactive"),)}
        assert waits[(("lane", "bulk"),)] < 0.05 <= waits[(("lane", "interactive"),)]

    run(scenario)


def test_worker_numbers_are_never_reused_and_skip_names_still_taken() -> None:
    async def scenario() -> None:
        launcher = FakeLauncher()
        launcher.taken_numbers = {1, 2}  # workers of the coordinator's previous life, not yet ended by Ray
        coordinator = await coordinator_with(launcher, min_workers=2, max_workers=2)
        assert launcher.numbers == [3, 4]
        assert [w.worker_id for w in coordinator.stats().workers] == ["w3", "w4"]

        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].fail(ActorDiedError())
        await until(lambda: len(launcher.open_calls()) == 1 and len(launcher.workers) == 3)
        launcher.open_calls()[0].answer("open")
        await task
        assert launcher.numbers == [3, 4, 5]  # the replacement takes a new number, never the dead worker's
        await coordinator.shutdown()

    run(scenario)


def test_without_metrics_the_coordinator_records_only_its_stats() -> None:
    async def scenario() -> None:
        launcher = FakeLauncher()
        coordinator = await coordinator_with(launcher)
        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(launcher.open_calls()) == 1)
        launcher.open_calls()[0].answer("open")
        await task
        assert (await coordinator.shutdown()).total_tasks_completed == 1

    run(scenario)
