"""The standby worker, driven through fake worker handles: proved before it stands by, serving at once when a
serving worker's process is gone (before Ray says so), and the first worker the scaling policy adds."""

from __future__ import annotations

import asyncio
from typing import Any

from pool_fakes import FakeLauncher, FakeWorker, request, run, started, stats_where, until
from ray.exceptions import ActorUnavailableError

from nepse_ray.pool.coordinator import Coordinator


async def with_standby(**options: Any) -> tuple[Coordinator, FakeLauncher, FakeWorker, FakeWorker]:
    """A pool of one serving worker and one standby whose token the test proved."""
    coordinator, launcher = await started(min_workers=1, standby=True, **options)
    await until(lambda: len(launcher.workers) == 2)
    serving, spare = launcher.workers
    await until(lambda: [call.method for call in spare.open_calls()] == ["session"])
    spare.open_calls()[0].answer("token")  # its token is proved before it stands by
    await stats_where(coordinator, lambda s: [w.state for w in s.workers] == ["serving", "standby"])
    return coordinator, launcher, serving, spare


def test_an_attempt_on_a_worker_whose_process_is_gone_goes_on_at_the_standby_at_once() -> None:
    async def scenario() -> None:
        coordinator, launcher, serving, spare = await with_standby(max_workers=2)
        task = asyncio.create_task(coordinator.call(request("market_open", {})))
        await until(lambda: len(serving.open_calls()) == 1)

        serving.ping_error = ActorUnavailableError("restarting", None)  # Ray restarts it, and has not said so yet
        launcher.end_process(serving.pid)
        await until(lambda: len(spare.open_calls()) == 1)
        spare.open_calls()[0].answer("open")

        assert await task == "open"
        stats = coordinator.stats()
        assert [(w.worker_id, w.state) for w in stats.workers] == [("w1", "quarantined"), ("w2", "serving")]
        assert stats.retries == 1 and len(serving.open_calls()) == 1  # the lost attempt was never answered
        assert len(launcher.workers) == 2  # no room for another standby: w1 may come back

    run(scenario)


def test_the_scaling_policy_adds_the_standby_first() -> None:
    async def scenario() -> None:
        coordinator, launcher, _, spare = await with_standby(max_workers=2, inflight_per_worker=1)
        tasks = [asyncio.create_task(coordinator.call(request("floorsheet", {"page": p}))) for p in range(4)]

        await until(lambda: len(spare.open_calls()) == 1)  # the backlog asked for a worker: the standby serves
        states = [(w.worker_id, w.state) for w in coordinator.stats().workers]
        assert states == [("w1", "serving"), ("w2", "serving")] and len(launcher.workers) == 2
        for page in range(4):
            await until(lambda: len(launcher.open_calls()) > 0)
            launcher.open_calls()[0].answer(f"page {page}")
        assert sorted(await asyncio.gather(*tasks)) == [f"page {p}" for p in range(4)]

    run(scenario)
