"""``Prefetched``, the table of models made ahead of ``ray.get`` (pure: no Ray, an injected clock)."""

from __future__ import annotations

import pytest

from nepse_ray.pool.made_ahead import BUDGET_BYTES, KEEP_SECONDS, Prefetched


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def table(clock: Clock) -> Prefetched:
    return Prefetched(clock=clock)


def test_a_model_is_taken_once_and_only_for_the_same_endpoint_and_bytes(table: Prefetched) -> None:
    model = object()
    table.put("floorsheet", b'{"page": 1}', model)

    assert table.take("floorsheet", b'{"page": 2}') is None
    assert table.take("today_price", b'{"page": 1}') is None
    assert table.take("floorsheet", b'{"page": 1}') is model
    assert table.take("floorsheet", b'{"page": 1}') is None
    assert len(table) == 0


def test_two_models_of_the_same_bytes_go_to_two_takers(table: Prefetched) -> None:
    first, second = object(), object()
    table.put("floorsheet", b"body", first)
    table.put("floorsheet", b"body", second)

    assert {id(table.take("floorsheet", b"body")), id(table.take("floorsheet", b"body"))} == {id(first), id(second)}


def test_a_model_whose_bytes_were_asked_for_while_it_was_made_is_dropped(table: Prefetched) -> None:
    table.making("floorsheet", b"body")
    assert table.take("floorsheet", b"body") is None  # the caller came first and validated it itself

    table.put("floorsheet", b"body", object())
    assert len(table) == 0
    table.making("floorsheet", b"body")  # the same bytes again, later: made ahead and kept
    table.put("floorsheet", b"body", made := object())
    assert table.take("floorsheet", b"body") is made


def test_bytes_asked_for_with_nothing_being_made_are_not_remembered(table: Prefetched) -> None:
    assert table.take("floorsheet", b"body") is None
    table.making("floorsheet", b"body")
    table.put("floorsheet", b"body", made := object())
    assert table.take("floorsheet", b"body") is made


def test_a_race_drops_only_as_many_models_as_were_asked_for(table: Prefetched) -> None:
    table.making("floorsheet", b"body")
    table.making("floorsheet", b"body")
    assert table.take("floorsheet", b"body") is None
    assert table.take("floorsheet", b"body") is None
    assert table.take("floorsheet", b"body") is None  # a third asker: only two models are on their way

    table.put("floorsheet", b"body", object())
    table.put("floorsheet", b"body", object())
    assert len(table) == 0


def test_an_abandoned_model_settles_its_race(table: Prefetched) -> None:
    table.making("floorsheet", b"bad")
    assert table.take("floorsheet", b"bad") is None
    table.abandon("floorsheet", b"bad")
    table.making("floorsheet", b"bad")
    table.put("floorsheet", b"bad", made := object())
    assert table.take("floorsheet", b"bad") is made


def test_models_older_than_the_keep_time_are_forgotten(table: Prefetched, clock: Clock) -> None:
    table.put("floorsheet", b"old", object())
    clock.now = KEEP_SECONDS / 2
    table.put("floorsheet", b"newer", object())
    clock.now = KEEP_SECONDS + 1

    assert table.room()
    assert len(table) == 1
    assert table.take("floorsheet", b"old") is None
    assert table.take("floorsheet", b"newer") is not None


def test_no_room_past_the_budget_of_bodies_until_models_are_taken(table: Prefetched) -> None:
    body = b"x" * (BUDGET_BYTES // 2)
    table.put("floorsheet", body, object())
    assert table.room()
    table.put("floorsheet", body + b"y", object())

    assert not table.room()
    table.take("floorsheet", body)
    assert table.room()
