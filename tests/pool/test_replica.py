"""Small cached answers given by the pool's replica, without Ray: the coordinator's numbers, the replica's copies,
and the facade's routes (``replica.py``, ``routes.py``)."""

from __future__ import annotations

import math
from typing import Any

from nepse_fakes import FakeClock

from nepse_ray.pool.cache import ResultCache
from nepse_ray.pool.replica import HOT_LIMIT, HOT_MAX_BYTES, NUMBER_GRACE, HotIndex, HotList, Replica
from nepse_ray.pool.request import PoolRequest, RequestKey
from nepse_ray.pool.routes import Routes


def _request(security_id: int = 1) -> PoolRequest:
    return PoolRequest.checked("market_depth", {"security_id": security_id})


def _key(request: PoolRequest) -> RequestKey:
    assert request.key is not None
    return request.key


def test_only_small_cached_answers_are_numbered_and_a_key_keeps_its_number() -> None:
    clock = FakeClock(start=0.0)
    cache: ResultCache[str] = ResultCache(10 * HOT_MAX_BYTES, clock=clock)
    index = HotIndex(clock, first=1)
    small, large, again = _request(1), _request(2), _request(1)
    for request, nbytes in ((small, 100), (large, HOT_MAX_BYTES + 1), (again, 120)):
        cache.put(_key(request), "answer", nbytes, ttl=30.0)
        index.cached(request, nbytes)
    clock.advance(10.0)

    listed = index.listed(cache)

    assert listed == {_key(small): (1, 20.0)}  # the large one is left to the coordinator; "again" kept number 1
    assert index.request(1) is small and index.request(2) is None and len(index) == 1


def test_session_requests_are_never_numbered() -> None:
    index = HotIndex(FakeClock(), first=1)
    index.cached(PoolRequest.checked("get_access_token", {}), 10)
    assert len(index) == 0


def test_the_list_holds_the_most_recently_cached_and_only_those_still_cached() -> None:
    clock = FakeClock(start=0.0)
    cache: ResultCache[str] = ResultCache(10**9, clock=clock)
    index = HotIndex(clock, first=1)
    requests = [_request(number) for number in range(HOT_LIMIT + 10)]
    for request in requests:
        cache.put(_key(request), "x", 10, ttl=math.inf)
        index.cached(request, 10)
    short = _request(100_000)
    cache.put(_key(short), "x", 10, ttl=1.0)
    index.cached(short, 10)
    clock.advance(2.0)  # the most recent has expired

    listed = index.listed(cache)

    assert len(listed) == HOT_LIMIT and _key(short) not in listed
    assert _key(requests[-1]) in listed and _key(requests[9]) not in listed


def _expired_once() -> tuple[FakeClock, ResultCache[str], HotIndex, PoolRequest]:
    """An index whose one numbered answer (number 1) was cached for 5 s, 6 s ago."""
    clock = FakeClock(start=0.0)
    cache: ResultCache[str] = ResultCache(1000, clock=clock)
    index = HotIndex(clock, first=1)
    request = _request()
    cache.put(_key(request), "x", 10, ttl=5.0)
    index.cached(request, 10)
    clock.advance(6.0)
    return clock, cache, index, request


def test_a_number_stays_known_for_its_grace_after_its_answer_left_the_cache() -> None:
    clock, cache, index, request = _expired_once()
    cache.purge()

    assert index.purge(cache) == 0 and index.request(1) is request  # gone from the cache: its grace starts
    clock.advance(NUMBER_GRACE)
    assert index.purge(cache) == 0 and index.request(1) is request
    clock.advance(0.1)
    assert index.purge(cache) == 1 and index.request(1) is None and len(index) == 0
    cache.put(_key(request), "y", 10, ttl=5.0)
    index.cached(request, 10)
    assert index.listed(cache) == {_key(request): (2, 5.0)}  # cached again: a new number


def test_an_answer_cached_again_within_its_grace_keeps_its_number() -> None:
    clock, cache, index, request = _expired_once()
    index.purge(cache)
    cache.put(_key(request), "y", 10, ttl=5.0)
    index.cached(request, 10)

    assert index.listed(cache) == {_key(request): (1, 5.0)}
    clock.advance(NUMBER_GRACE + 1)  # expired again at 11 s; its grace starts at the purge that finds it gone
    assert index.purge(cache) == 0 and index.request(1) is request


class _Store:
    """A store of numbered requests in a dict, as the GCS keeps them across the coordinator's restarts."""

    def __init__(self) -> None:
        self.kept: dict[int, bytes] = {}

    def save(self, number: int, data: bytes) -> None:
        self.kept[number] = data

    def load(self, number: int) -> bytes | None:
        return self.kept.get(number)

    def forget(self, number: int) -> None:
        del self.kept[number]

    def clear(self) -> None:
        self.kept.clear()


def test_a_number_given_before_a_restart_is_answered_after_it_and_never_given_again() -> None:
    clock = FakeClock(start=0.0)
    store = _Store()
    before = HotIndex(clock, store)
    request = _request()
    before.cached(request, 10)
    (number,) = store.kept

    after = HotIndex(clock, store)  # the coordinator restarted: its cache and index are gone, the store is not
    other = _request(2)
    after.cached(other, 10)

    assert after.request(number) == request and after.request(number + 10**6) is None
    assert len(store.kept) == 2 and after.request(min(set(store.kept) - {number})) == other  # a number of its own
    cache: ResultCache[str] = ResultCache(1000, clock=clock)
    cache.put(_key(request), "x", 10, ttl=5.0)
    after.cached(request, 10)
    assert after.listed(cache) == {_key(request): (number, 5.0)}  # cached again in the new life, same number


def test_forgotten_numbers_leave_the_store_and_clear_empties_it() -> None:
    clock = FakeClock(start=0.0)
    store = _Store()
    index = HotIndex(clock, store, first=1)
    cache: ResultCache[str] = ResultCache(1000, clock=clock)
    for request in (_request(1), _request(2)):
        index.cached(request, 10)
    cache.put(_key(_request(2)), "x", 10, ttl=math.inf)

    index.purge(cache)
    clock.advance(NUMBER_GRACE + 1)
    assert index.purge(cache) == 1 and set(store.kept) == {2}
    index.clear()
    assert store.kept == {} and index.request(2) is None


def test_a_copy_is_kept_until_the_coordinators_entry_expires_counted_from_before_the_ask() -> None:
    clock = FakeClock(start=0.0)
    replica = Replica(max_bytes=1000, clock=clock)
    assert replica.get(7) is None

    asked_at = replica.asking()
    clock.advance(1.0)  # the ask took a second; the coordinator said 10 s were left when it answered
    replica.keep(7, "answer", 10, asked_at, 10.0)

    assert replica.get(7) == "answer"
    clock.advance(8.9)
    assert replica.get(7) == "answer"
    clock.advance(0.1)  # 10 s after the ask, not after the answer
    assert replica.get(7) is None
    assert (replica.hits, replica.asked) == (2, 1)


def test_a_copy_with_no_time_left_is_not_kept_and_copies_are_byte_bounded() -> None:
    clock = FakeClock(start=0.0)
    replica = Replica(max_bytes=100, clock=clock)
    replica.keep(1, "now expired", 10, replica.asking(), 0.0)
    replica.keep(2, "forever", 60, replica.asking(), math.inf)
    replica.keep(3, "too", 60, replica.asking(), math.inf)  # pushes out 2

    assert replica.get(1) is None and replica.get(2) is None and replica.get(3) == "too"


class _Coordinator:
    """What a facade reads: the serving workers and the listed answers; counts its reads."""

    def __init__(self, workers: list[str], hot: HotList) -> None:
        self.workers, self.hot, self.reads = workers, hot, 0

    def read(self) -> tuple[list[Any], HotList]:
        self.reads += 1
        return list(self.workers), dict(self.hot)


def test_routes_take_the_workers_in_turn_and_read_at_most_every_refresh() -> None:
    clock = FakeClock(start=0.0)
    key = _key(_request())
    coordinator = _Coordinator(["w1", "w2"], {key: (5, 100.0)})
    routes = Routes(coordinator.read, refresh=2.0, clock=clock)

    picks = [routes.session_worker(), routes.cached(key), routes.session_worker(), routes.session_worker()]

    assert picks == ["w2", 5, "w1", "w2"]
    assert (routes.session_calls, routes.replica_calls, coordinator.reads) == (3, 1, 1)
    clock.advance(2.0)
    coordinator.workers = ["w3"]
    assert routes.session_worker() == "w3" and coordinator.reads == 2


def test_a_cached_route_ends_with_its_seconds_counted_from_before_the_read() -> None:
    clock = FakeClock(start=0.0)
    listed, unlisted = _key(_request(1)), _key(_request(2))

    def slow_read() -> tuple[list[Any], HotList]:
        clock.advance(0.5)  # the read took half a second; the coordinator measured 3 s left
        return ["w1"], {listed: (1, 3.0)}

    routes = Routes(slow_read, refresh=60.0, clock=clock)

    assert routes.cached(unlisted) is None
    assert routes.cached(listed) == 1
    clock.advance(2.4)  # 2.9 s after the read began
    assert routes.cached(listed) == 1
    clock.advance(0.1)
    assert routes.cached(listed) is None and routes.replica_calls == 2


def test_no_workers_or_a_refused_read_sends_session_calls_to_the_coordinator_until_forget() -> None:
    clock = FakeClock(start=0.0)
    key = _key(_request())
    coordinator = _Coordinator([], {})
    routes = Routes(coordinator.read, refresh=60.0, clock=clock)

    assert routes.session_worker() is None and routes.cached(key) is None
    coordinator.workers = ["w1"]
    assert routes.session_worker() is None  # not read again before the refresh
    routes.forget()
    assert routes.session_worker() == "w1" and coordinator.reads == 2
