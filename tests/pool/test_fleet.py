"""The fleet's state machine and slots, without Ray: every transition in the table, slots, placement, stats."""

from __future__ import annotations

import pytest

from nepse_ray.pool.fleet import TRANSITIONS, Change, Fleet, Worker, WorkerState

S = WorkerState


def serving(fleet: Fleet, count: int, now: float = 0.0, node: str | None = "n1") -> list[Worker]:
    workers = [fleet.add(f"w{len(fleet) + 1}", object(), node, now) for _ in range(count)]
    for worker in workers:
        assert fleet.apply(worker, Change.READY, now)
    return workers


def test_a_worker_goes_through_its_whole_life() -> None:
    fleet = Fleet(capacity=2)
    worker = fleet.add("w1", "handle", "n1", now=1.0)
    assert (worker.worker_id, worker.state, worker.idle_since) == ("w1", S.STARTING, None)

    assert fleet.apply(worker, Change.READY, now=2.0)
    assert (worker.state, worker.idle_since, worker.state_since) == (S.SERVING, 2.0, 2.0)
    assert fleet.apply(worker, Change.UNAVAILABLE, now=3.0) and worker.state is S.QUARANTINED
    assert fleet.apply(worker, Change.REVIVED, now=4.0) and worker.state is S.SERVING
    fleet.occupy(worker)
    assert fleet.apply(worker, Change.RETIRE, now=5.0) and worker.state is S.DRAINING
    assert fleet.release(worker, now=6.0)  # its last attempt finished: drained
    assert worker.state is S.RETIRING
    assert fleet.remove(worker) and not fleet.holds(worker) and not fleet.remove(worker)


@pytest.mark.parametrize("state", list(WorkerState))
@pytest.mark.parametrize("change", list(Change))
def test_only_the_table_moves_a_worker(state: WorkerState, change: Change) -> None:
    fleet = Fleet(capacity=1)
    worker = fleet.add("w1", None, None, now=0.0)
    worker.state = state

    moved = fleet.apply(worker, change, now=1.0)

    assert moved == ((state, change) in TRANSITIONS)
    assert worker.state is TRANSITIONS.get((state, change), state)


def test_a_removed_worker_cannot_change_state() -> None:
    fleet = Fleet(capacity=1)
    worker = fleet.add("w1", None, None, now=0.0)
    fleet.remove(worker)
    assert not fleet.apply(worker, Change.READY, now=1.0) and worker.state is S.STARTING


def test_pick_takes_the_least_loaded_serving_worker_with_a_free_slot() -> None:
    fleet = Fleet(capacity=2)
    first, second, third = serving(fleet, 3)
    fleet.apply(third, Change.UNAVAILABLE, now=0.0)
    fleet.add("w4", None, None, now=0.0)  # starting: never picked

    picks = []
    while (worker := fleet.pick()) is not None:
        fleet.occupy(worker)
        picks.append(worker.worker_id)

    assert picks == ["w1", "w2", "w1", "w2"]
    assert fleet.free_slots() == 0 and first.idle_since is None
    fleet.release(second, now=9.0)
    assert fleet.free_slots() == 1 and fleet.pick() is second


def test_releasing_a_serving_worker_to_idle_keeps_it_serving() -> None:
    fleet = Fleet(capacity=2)
    (worker,) = serving(fleet, 1)
    fleet.occupy(worker)
    assert not fleet.release(worker, now=7.0)
    assert (worker.state, worker.idle_since) == (S.SERVING, 7.0)


def test_a_draining_worker_takes_nothing_new() -> None:
    fleet = Fleet(capacity=2)
    (worker,) = serving(fleet, 1)
    fleet.occupy(worker)
    fleet.apply(worker, Change.RETIRE, now=1.0)
    assert fleet.pick() is None and fleet.free_slots() == 0


def test_counts_loads_and_pending_starts() -> None:
    fleet = Fleet(capacity=2)
    a, b, c = serving(fleet, 3)
    fleet.add("w4", None, None, now=0.0)
    fleet.apply(b, Change.UNAVAILABLE, now=0.0)
    fleet.apply(c, Change.RETIRE, now=0.0)
    fleet.occupy(a)

    assert [load.worker_id for load in fleet.loads()] == ["w1"]
    assert fleet.loads()[0].inflight == 1
    assert fleet.pending_starts() == 2  # one starting, one quarantined
    assert fleet.count(S.SERVING, S.DRAINING) == 2 and len(fleet) == 4
    assert [s.state for s in fleet.statuses()] == ["serving", "quarantined", "draining", "starting"]
    flags = [(s.healthy, s.draining) for s in fleet.statuses()]
    assert flags == [(True, False), (False, False), (True, True), (True, False)]


def test_placement_fills_the_emptiest_node_first() -> None:
    fleet = Fleet(capacity=1)
    nodes = ["n1", "n2", "n3"]
    placed = []
    for _ in range(7):
        node = fleet.choose_node(nodes)
        fleet.add(f"w{len(fleet) + 1}", None, node, now=0.0)
        placed.append(node)
    assert placed == ["n1", "n2", "n3", "n1", "n2", "n3", "n1"]
    assert fleet.choose_node([]) is None


def test_placement_ignores_retiring_workers_and_dead_nodes() -> None:
    fleet = Fleet(capacity=1)
    on_n1 = serving(fleet, 2, node="n1")
    serving(fleet, 1, node="n2")
    for worker in on_n1:
        fleet.apply(worker, Change.RETIRE, now=0.0)
        fleet.apply(worker, Change.DRAINED, now=0.0)
    assert fleet.choose_node(["n1", "n2"]) == "n1"
    assert fleet.choose_node(["n2", "n3"]) == "n3"  # n1 is gone from the alive list


def test_a_standby_waits_apart_until_promoted() -> None:
    fleet = Fleet(capacity=2)
    (first,) = serving(fleet, 1)
    assert fleet.wants_standby(max_workers=2) and not fleet.wants_standby(max_workers=1)
    spare = fleet.add("w2", None, "n1", now=0.0, standby=True)

    assert fleet.standby() is spare and not fleet.wants_standby(max_workers=5)
    assert fleet.pending_starts() == 0  # not capacity on its way for the scaling policy
    assert not fleet.apply(spare, Change.PROMOTE, now=1.0)  # not ready yet
    assert fleet.apply(spare, Change.STAND_BY, now=1.0) and spare.state is S.STANDBY
    assert fleet.free_slots() == 2 and [load.worker_id for load in fleet.loads()] == ["w1"]

    assert fleet.apply(spare, Change.PROMOTE, now=2.0)
    assert spare.state is S.SERVING and fleet.standby() is None and fleet.free_slots() == 4
    assert fleet.pick() in (first, spare)
