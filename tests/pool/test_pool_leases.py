"""The coordinator's side of the direct path (``Coordinator.lease`` / ``give_back``), driven through fake workers.

No Ray cluster: the coordinator runs on a plain asyncio loop with the fake launcher of ``pool_fakes.py``; the test
plays the caller (``direct.py``), which gets leases, calls the workers itself and gives the leases back.
"""

from __future__ import annotations

import asyncio

import pytest
from pool_fakes import run, started, stats_where, until
from ray.exceptions import ActorDiedError

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.pool.errors import PoolShutdownError
from nepse_ray.pool.lease import GivenBack, Grants


def test_a_lease_grants_free_slots_and_names_only_workers_the_caller_does_not_know() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=2, max_workers=2, inflight_per_worker=2)
        grants = await coordinator.lease("a", wanted=3)
        assert len(grants.leases) == 3
        assert set(grants.handles) == {lease.worker_id for lease in grants.leases}
        assert set(grants.handles.values()) <= set(launcher.workers)

        again = await coordinator.lease("a", wanted=5, known=frozenset(grants.handles))
        assert len(again.leases) == 1  # the fourth and last slot; the others are withdrawn
        assert set(again.handles) <= {lease.worker_id for lease in again.leases} - set(grants.handles)
        stats = coordinator.stats()
        assert (stats.busy_workers, stats.queue_length, stats.pending_tasks) == (2, 0, 4)

    run(scenario)


def test_given_back_leases_free_their_slots_and_count_their_outcomes() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=3)
        one, two, three = (await coordinator.lease("a", wanted=3)).leases
        coordinator.give_back(
            [
                GivenBack(one.lease_id, "answered", "floorsheet", nbytes=1000, latency=0.2),
                GivenBack(two.lease_id, "retried"),
                GivenBack(three.lease_id, "failed", error=NepseServerError("502", status=502)),
                GivenBack(three.lease_id, "answered"),  # given back twice: counted once
            ]
        )
        stats = coordinator.stats()
        assert (stats.total_tasks_completed, stats.retries, stats.total_errors) == (1, 1, 1)
        assert (stats.result_bytes, stats.busy_workers, stats.pending_tasks) == (1000, 0, 0)
        assert stats.requests_per_worker == {one.worker_id: 3}

    run(scenario)


def test_a_waiting_lease_gets_the_slot_given_back_and_callers_take_turns() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=1)
        (held,) = (await coordinator.lease("a", wanted=1)).leases
        first_a = asyncio.create_task(coordinator.lease("a", wanted=1))
        await stats_where(coordinator, lambda s: s.queue_length == 1)
        first_b = asyncio.create_task(coordinator.lease("b", wanted=1))
        await stats_where(coordinator, lambda s: s.queue_length == 2)
        second_a = asyncio.create_task(coordinator.lease("a", wanted=1))
        await stats_where(coordinator, lambda s: s.queue_length == 3)

        order: list[asyncio.Task[Grants]] = []
        for _ in range(3):
            coordinator.give_back([GivenBack(held.lease_id, "answered")])
            done, _ = await asyncio.wait({first_a, first_b, second_a} - set(order), return_when="FIRST_COMPLETED")
            (winner,) = done
            order.append(winner)
            (held,) = winner.result().leases
        assert order == [first_a, first_b, second_a]  # a, then b's turn, then a again

    run(scenario)


def test_a_lost_worker_reported_with_its_lease_is_replaced() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=1, max_workers=1)
        (lease,) = (await coordinator.lease("a", wanted=1)).leases
        launcher.kill(launcher.workers[0])
        coordinator.give_back([GivenBack(lease.lease_id, "retried", lost=ActorDiedError())])

        stats = await stats_where(coordinator, lambda s: s.worker_replacements == 1 and s.idle_workers == 1)
        assert (stats.retries, len(launcher.workers)) == (1, 2)
        (again,) = (await coordinator.lease("a", wanted=1)).leases
        assert again.worker_id != lease.worker_id

    run(scenario)


def test_a_lease_out_past_task_timeout_counts_as_a_timeout_and_holds_its_slot() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=1, task_timeout=0.02)
        (lease,) = (await coordinator.lease("a", wanted=1)).leases
        stats = await stats_where(coordinator, lambda s: s.timeouts == 1)
        assert stats.busy_workers == 1

        coordinator.give_back([GivenBack(lease.lease_id, "retried")])
        await stats_where(coordinator, lambda s: s.busy_workers == 0)

    run(scenario)


def test_a_cancelled_lease_call_leaves_no_slot_taken_and_no_queue_entry() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=1)
        (held,) = (await coordinator.lease("a", wanted=1)).leases
        waiting = asyncio.create_task(coordinator.lease("b", wanted=1))
        await stats_where(coordinator, lambda s: s.queue_length == 1)
        waiting.cancel()
        await stats_where(coordinator, lambda s: s.queue_length == 0)

        coordinator.give_back([GivenBack(held.lease_id, "answered")])
        assert len((await coordinator.lease("c", wanted=1)).leases) == 1

    run(scenario)


def test_drain_waits_for_leases_to_come_back_and_no_lease_is_granted_after_shutdown() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1)
        (lease,) = (await coordinator.lease("a", wanted=1)).leases
        closing = asyncio.create_task(coordinator.shutdown(drain=True, drain_timeout=30))
        await until(lambda: coordinator.stats().closing)
        with pytest.raises(PoolShutdownError):
            await coordinator.lease("a", wanted=1)
        assert not closing.done()

        coordinator.give_back([GivenBack(lease.lease_id, "answered")])
        stats = await closing
        assert (stats.total_tasks_completed, stats.pending_tasks) == (1, 0)

    run(scenario)


def test_leases_take_the_pool_rate_caps_permits() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=4, pool_rate_cap=5.0)
        first = await coordinator.lease("a", wanted=3)
        assert len(first.leases) == 1  # free slots, but one permit (burst 1)
        second = await coordinator.lease("a", wanted=3)
        assert len(second.leases) == 1  # the next permit, 1/5 s later
        assert coordinator.stats().busy_workers == 1 and coordinator.stats().queue_length == 0

    run(scenario)
