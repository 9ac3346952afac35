"""The dispatcher's rules, driven by hand: lanes, retries first, callers in turn, the rate cap and its timer."""

from __future__ import annotations

import pytest
from nepse_fakes import FakeClock

from nepse_ray.pool.dispatch import Dispatcher, Ticket
from nepse_ray.pool.request import Lane


def ticket(payload: str, lane: Lane = "bulk", caller: str = "a", retry: bool = False) -> Ticket[str]:
    return Ticket(lane, caller, payload, retry)


def granted(dispatcher: Dispatcher[str], free_slots: int = 100) -> list[str]:
    return [t.payload for t in dispatcher.grant(free_slots)[1]]


def test_interactive_goes_before_any_bulk_backlog() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    for page in range(1000):
        dispatcher.push(ticket(f"page {page}"))
    dispatcher.push(ticket("market_open", lane="interactive"))

    assert granted(dispatcher, 1) == ["market_open"]
    assert dispatcher.waiting("interactive") == 0 and dispatcher.waiting("bulk") == 1000


def test_retries_go_before_first_attempts_of_their_lane_only() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    dispatcher.push(ticket("new bulk"))
    dispatcher.push(ticket("bulk retry", retry=True))
    dispatcher.push(ticket("new interactive", lane="interactive"))

    assert granted(dispatcher) == ["new interactive", "bulk retry", "new bulk"]


def test_callers_are_served_in_turn_each_in_its_own_order() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    for page in range(5):
        dispatcher.push(ticket(f"big {page}", caller="big"))
    dispatcher.push(ticket("small 0", caller="small"))
    dispatcher.push(ticket("small 1", caller="small"))

    assert granted(dispatcher, 4) == ["big 0", "small 0", "big 1", "small 1"]
    dispatcher.push(ticket("late 0", caller="late"))
    assert granted(dispatcher) == ["big 2", "late 0", "big 3", "big 4"]


def test_a_latecomer_waits_at_most_one_turn_per_other_caller() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    for caller in ("a", "b", "c"):
        for page in range(100):
            dispatcher.push(ticket(f"{caller}{page}", caller=caller))
    granted(dispatcher, 7)
    dispatcher.push(ticket("d0", caller="d"))

    assert "d0" in granted(dispatcher, 4)


def test_withdrawn_tickets_are_skipped_and_not_counted() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    tickets = [ticket(f"p{n}") for n in range(4)]
    for t in tickets:
        dispatcher.push(t)
    assert dispatcher.withdraw(tickets[0]) and dispatcher.withdraw(tickets[2])
    assert not dispatcher.withdraw(tickets[2])

    assert dispatcher.waiting() == 2
    assert granted(dispatcher) == ["p1", "p3"]
    assert not dispatcher.withdraw(tickets[1])  # granted already
    assert dispatcher.waiting() == 0 and granted(dispatcher) == []


def test_a_caller_whose_tickets_were_all_withdrawn_leaves_the_rotation() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    gone = [ticket(f"gone {n}", caller="gone") for n in range(3)]
    for t in gone:
        dispatcher.push(t)
    dispatcher.push(ticket("stays", caller="stays"))
    for t in gone:
        dispatcher.withdraw(t)

    assert granted(dispatcher) == ["stays"]


def test_promote_moves_a_waiting_bulk_ticket_to_the_interactive_lane() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    for page in range(10):
        dispatcher.push(ticket(f"page {page}"))
    shared = ticket("security_list")
    dispatcher.push(shared)

    moved = dispatcher.promote(shared)

    assert moved is not shared and moved.lane == "interactive" and not shared.waiting
    assert dispatcher.waiting("interactive") == 1 and dispatcher.waiting("bulk") == 10
    assert granted(dispatcher, 1) == ["security_list"]
    assert dispatcher.promote(moved) is moved  # granted: nothing to move
    assert "security_list" not in granted(dispatcher)  # and the old bulk entry is never served


def test_the_rate_cap_spaces_grants_and_names_the_moment_of_the_next() -> None:
    clock = FakeClock(start=50.0)
    dispatcher: Dispatcher[str] = Dispatcher(rate_cap=5.0, clock=clock)
    for n in range(3):
        dispatcher.push(ticket(f"p{n}"))

    assert granted(dispatcher, 10) == ["p0"]
    assert dispatcher.wake_at() == pytest.approx(50.2)
    clock.advance(0.1)
    assert granted(dispatcher, 10) == [] and dispatcher.wake_at() == pytest.approx(50.2)
    clock.now = 50.2
    assert granted(dispatcher, 10) == ["p1"]
    clock.now = dispatcher.wake_at() or 0.0
    assert granted(dispatcher, 10) == ["p2"]
    assert dispatcher.wake_at() is None  # nothing waits


def test_permits_for_requests_of_attempts_in_flight_go_first_and_take_the_caps_permits() -> None:
    clock = FakeClock(start=0.0)
    dispatcher: Dispatcher[str] = Dispatcher(rate_cap=5.0, clock=clock)
    dispatcher.push(ticket("p0"))

    assert dispatcher.grant(free_slots=4, permits=2) == (1, [])  # one permit, for the first request waiting for one
    assert dispatcher.wake_at() == pytest.approx(0.2)
    clock.now = 0.2
    assert dispatcher.grant(free_slots=4, permits=1) == (1, [])  # the ticket waits until no request does
    clock.now = 0.4
    given, tickets = dispatcher.grant(free_slots=4, permits=0)
    assert (given, [t.payload for t in tickets]) == (0, ["p0"])


def test_without_a_cap_permits_are_given_at_once() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    dispatcher.push(ticket("p0"))
    given, tickets = dispatcher.grant(free_slots=1, permits=3)
    assert (given, [t.payload for t in tickets], dispatcher.wake_at()) == (3, ["p0"], None)


def test_no_timer_when_slots_not_the_cap_hold_tickets_back() -> None:
    clock = FakeClock(start=0.0)
    dispatcher: Dispatcher[str] = Dispatcher(rate_cap=5.0, clock=clock)
    dispatcher.push(ticket("p0"))
    dispatcher.push(ticket("p1"))

    assert granted(dispatcher, 1) == ["p0"]
    assert dispatcher.wake_at() is None  # the next grant waits for a slot, and a freed slot triggers it


def test_without_a_cap_there_is_never_a_timer() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    dispatcher.push(ticket("p0"))
    assert granted(dispatcher, 0) == [] and dispatcher.wake_at() is None


def test_clear_returns_every_waiting_ticket_once() -> None:
    dispatcher: Dispatcher[str] = Dispatcher()
    tickets = [ticket("a"), ticket("b", lane="interactive"), ticket("c", retry=True), ticket("d", caller="z")]
    for t in tickets:
        dispatcher.push(t)
    dispatcher.withdraw(tickets[3])

    assert sorted(t.payload for t in dispatcher.clear()) == ["a", "b", "c"]
    assert dispatcher.waiting() == 0 and granted(dispatcher) == []
