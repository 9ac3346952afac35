"""The coordinator's side of the direct path (``Coordinator.lease`` / ``give_back``), driven through fake workers.

No Ray cluster: the coordinator runs on a plain asyncio loop with the fake launcher of ``pool_fakes.py``; the test
plays the caller (``direct.py``, as ``pool_fakes.Requester``), which gets leases, calls the workers itself and
gives the leases back with its running tally.
"""

from __future__ import annotations

import asyncio

import pytest
from nepse_fakes import FakeClock
from pool_fakes import MemoryStore, Requester, run, started, stats_where, until
from ray.exceptions import ActorDiedError

from nepse_ray.nepse.errors import NepseServerError
from nepse_ray.pool.errors import PoolShutdownError
from nepse_ray.pool.lease import PROBE_AFTER, GivenBack, Grants, Tally


def test_a_lease_grants_free_slots_and_names_only_workers_the_caller_does_not_know() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=2, max_workers=2, inflight_per_worker=2)
        caller = Requester(coordinator)
        grants = await caller.lease(3)
        assert len(grants.leases) == 3 and grants.life == 1
        assert set(grants.handles) == {lease.worker_id for lease in grants.leases}
        assert set(grants.handles.values()) <= set(launcher.workers)

        again = await caller.lease(5)
        assert len(again.leases) == 1  # the fourth and last slot; the others are withdrawn
        assert set(again.handles) <= {lease.worker_id for lease in again.leases} - set(grants.handles)
        stats = coordinator.stats()
        assert (stats.busy_workers, stats.queue_length, stats.pending_tasks) == (2, 0, 4)

    run(scenario)


def test_given_back_leases_free_their_slots_and_count_their_outcomes_once() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=3)
        caller = Requester(coordinator)
        one, two, three = (await caller.lease(3)).leases
        returns = caller.give_back(
            GivenBack(one.lease_id, "answered", "floorsheet", nbytes=1000, latency=0.2),
            GivenBack(two.lease_id, "retried"),
            GivenBack(three.lease_id, "failed", error=NepseServerError("502", status=502)),
        )
        coordinator.give_back(returns)  # the same give-back again (Ray retried the call): counted once
        stats = coordinator.stats()
        assert (stats.total_tasks_completed, stats.retries, stats.total_errors) == (1, 1, 1)
        assert (stats.result_bytes, stats.busy_workers, stats.pending_tasks) == (1000, 0, 0)
        assert stats.requests_per_worker == {one.worker_id: 3}

    run(scenario)


def test_a_waiting_lease_gets_the_slot_given_back_and_callers_take_turns() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=1)
        a, b = Requester(coordinator, "a"), Requester(coordinator, "b")
        (held,) = (await a.lease(1)).leases
        first_a = asyncio.create_task(a.lease(1))
        await stats_where(coordinator, lambda s: s.queue_length == 1)
        first_b = asyncio.create_task(b.lease(1))
        await stats_where(coordinator, lambda s: s.queue_length == 2)
        second_a = asyncio.create_task(a.lease(1))
        await stats_where(coordinator, lambda s: s.queue_length == 3)

        order: list[asyncio.Task[Grants]] = []
        for _ in range(3):
            a.give_back(GivenBack(held.lease_id, "answered"))
            done, _ = await asyncio.wait({first_a, first_b, second_a} - set(order), return_when="FIRST_COMPLETED")
            (winner,) = done
            order.append(winner)
            (held,) = winner.result().leases
        assert order == [first_a, first_b, second_a]  # a, then b's turn, then a again

    run(scenario)


def test_a_lost_worker_reported_with_its_lease_is_replaced() -> None:
    async def scenario() -> None:
        coordinator, launcher = await started(min_workers=1, max_workers=1)
        caller = Requester(coordinator)
        (lease,) = (await caller.lease(1)).leases
        launcher.kill(launcher.workers[0])
        caller.give_back(GivenBack(lease.lease_id, "retried", lost=ActorDiedError()))

        stats = await stats_where(coordinator, lambda s: s.worker_replacements == 1 and s.idle_workers == 1)
        assert (stats.retries, len(launcher.workers)) == (1, 2)
        (again,) = (await caller.lease(1)).leases
        assert again.worker_id != lease.worker_id

    run(scenario)


def test_a_lease_out_past_task_timeout_counts_as_a_timeout_and_holds_its_slot() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=1, task_timeout=0.02)
        caller = Requester(coordinator)
        (lease,) = (await caller.lease(1)).leases
        stats = await stats_where(coordinator, lambda s: s.timeouts == 1)
        assert stats.busy_workers == 1

        caller.give_back(GivenBack(lease.lease_id, "retried"))
        await stats_where(coordinator, lambda s: s.busy_workers == 0)

    run(scenario)


def test_a_dead_callers_leases_come_back_without_touching_its_worker() -> None:
    async def scenario() -> None:
        clock = FakeClock(start=0.0)
        coordinator, launcher = await started(
            min_workers=1, max_workers=1, inflight_per_worker=2, core={"clock": clock}
        )
        dead, alive = Requester(coordinator, "pull"), Requester(coordinator, "notebook")
        await dead.lease(2)
        waiting = asyncio.create_task(alive.lease(1))
        clock.advance(PROBE_AFTER + 0.5)
        await until(lambda: dead.presence.reads >= 1)  # checked, and found alive: nothing moves
        assert not waiting.done()

        dead.presence.gone()  # its process was SIGKILLed mid-pull
        clock.advance(5.0)
        (lease,) = (await asyncio.wait_for(waiting, 5)).leases
        stats = coordinator.stats()
        assert (stats.worker_replacements, stats.timeouts, len(launcher.workers)) == (0, 0, 1)
        assert stats.stale_cleaned == 2 and lease.worker_id == "w1"

    run(scenario)


def test_leases_given_back_while_their_attempts_run_keep_their_slots_until_task_timeout() -> None:
    async def scenario() -> None:
        clock = FakeClock(start=0.0)
        coordinator, _ = await started(
            min_workers=1, max_workers=1, inflight_per_worker=1, task_timeout=10.0, core={"clock": clock}
        )
        caller = Requester(coordinator)
        (lease,) = (await caller.lease(1)).leases
        clock.advance(1.0)
        caller.give_back(GivenBack(lease.lease_id, "cancelled", running=True), final=True)
        assert coordinator.stats().busy_workers == 1  # the attempt may still run: the slot stays taken

        clock.advance(9.5)
        await stats_where(coordinator, lambda s: s.busy_workers == 0 and s.pending_tasks == 0)
        assert coordinator.stats().timeouts == 0

    run(scenario)


def test_a_restarted_coordinator_keeps_its_totals_numbers_workers_anew_and_sends_every_handle() -> None:
    async def scenario() -> None:
        store = MemoryStore()
        first, _ = await started(min_workers=2, max_workers=2, core={"ledger_store": store})
        caller = Requester(first)
        backs = [GivenBack(lease.lease_id, "answered", nbytes=10) for lease in (await caller.lease(2)).leases]
        caller.give_back(backs[0])
        assert first.stats().total_tasks_completed == 1  # read: the store holds it from now on
        caller.give_back(backs[1])  # counted by the first life, which dies before it writes the ledger

        second, _ = await started(min_workers=2, max_workers=2, core={"ledger_store": store.snapshot()})
        assert second.stats().total_tasks_completed == 1  # never below what anyone read
        caller.coordinator = second  # the same actor to the caller, restarted by Ray
        grants = await caller.lease(2)  # asked with the handles of the first life
        assert grants.life == 2 and sorted(w.worker_id for w in second.stats().workers) == ["w3", "w4"]
        assert set(grants.handles) == {lease.worker_id for lease in grants.leases}
        caller.give_back(*(GivenBack(lease.lease_id, "answered", nbytes=10) for lease in grants.leases))
        stats = second.stats()
        assert (stats.total_tasks_completed, stats.result_bytes) == (4, 40)  # the lost count came back too

    run(scenario)


def test_a_tally_counts_what_it_holds_beyond_the_last_one() -> None:
    tally = Tally()
    tally.add(GivenBack(1, "answered", nbytes=5))
    tally.add(GivenBack(2, "cancelled"))
    later = tally.copy()
    later.add(GivenBack(3, "failed"))
    assert later.minus(tally) == Tally(failed={"PoolError": 1}) and tally.minus(later) == Tally()


def test_a_cancelled_lease_call_leaves_no_slot_taken_and_no_queue_entry() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=1)
        a, b = Requester(coordinator, "a"), Requester(coordinator, "b")
        (held,) = (await a.lease(1)).leases
        waiting = asyncio.create_task(b.lease(1))
        await stats_where(coordinator, lambda s: s.queue_length == 1)
        waiting.cancel()
        await stats_where(coordinator, lambda s: s.queue_length == 0)

        a.give_back(GivenBack(held.lease_id, "answered"))
        assert len((await Requester(coordinator, "c").lease(1)).leases) == 1

    run(scenario)


def test_drain_waits_for_leases_to_come_back_and_no_lease_is_granted_after_shutdown() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1)
        caller = Requester(coordinator)
        (lease,) = (await caller.lease(1)).leases
        closing = asyncio.create_task(coordinator.shutdown(drain=True, drain_timeout=30))
        await until(lambda: coordinator.stats().closing)
        with pytest.raises(PoolShutdownError):
            await caller.lease(1)
        assert not closing.done()

        caller.give_back(GivenBack(lease.lease_id, "answered"))
        stats = await closing
        assert (stats.total_tasks_completed, stats.pending_tasks) == (1, 0)

    run(scenario)


def test_leases_take_the_pool_rate_caps_permits() -> None:
    async def scenario() -> None:
        coordinator, _ = await started(min_workers=1, max_workers=1, inflight_per_worker=4, pool_rate_cap=5.0)
        caller = Requester(coordinator)
        first = await caller.lease(3)
        assert len(first.leases) == 1  # free slots, but one permit (burst 1)
        second = await caller.lease(3)
        assert len(second.leases) == 1  # the next permit, 1/5 s later
        assert coordinator.stats().busy_workers == 1 and coordinator.stats().queue_length == 0

    run(scenario)


def test_a_workers_extra_requests_take_the_caps_permits_before_any_grant() -> None:
    async def scenario() -> None:
        clock = FakeClock(start=0.0)
        coordinator, _ = await started(
            min_workers=1, max_workers=1, inflight_per_worker=4, pool_rate_cap=5.0, core={"clock": clock}
        )
        caller = Requester(coordinator)
        assert len((await caller.lease(1)).leases) == 1  # the grant's permit: its attempt's first request
        reprove = asyncio.create_task(coordinator.permit())  # the attempt's token expired: a prove first
        waiting = asyncio.create_task(caller.lease(1))
        await stats_where(coordinator, lambda s: s.queue_length == 1)
        assert not reprove.done()

        clock.advance(0.2)
        await asyncio.wait_for(reprove, 5)  # the next permit goes to the request in flight
        assert not waiting.done() and coordinator.stats().queue_length == 1
        clock.advance(0.2)
        assert len((await asyncio.wait_for(waiting, 5)).leases) == 1

    run(scenario)
