"""The token bucket, driven by a fake clock: rate and burst bounds, waits, validation and thread safety."""

from __future__ import annotations

import random
import threading

import pytest
from nepse_fakes import FakeClock

from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.ratelimit import TokenBucket


def never_sleep(seconds: float) -> None:
    raise AssertionError(f"slept {seconds} s")


def test_first_acquire_is_free_then_paced_by_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock, sleep=clock.sleep)
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(0.5)
    assert bucket.acquire() == pytest.approx(0.5)
    assert clock.sleeps == pytest.approx([0.5, 0.5])


def test_a_permit_used_late_pushes_the_next_one_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock, sleep=clock.sleep)
    bucket.acquire()
    clock.advance(0.1)  # the sender was descheduled between the grant and the send
    bucket.note_used()
    used_at = clock()
    bucket.acquire()
    assert clock() - used_at == pytest.approx(0.5)  # a full interval after the late use, not after the grant


def test_a_permit_used_on_time_costs_nothing_extra() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        bucket.acquire()
        bucket.note_used()
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5])


def test_idle_time_refills_but_only_up_to_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=4.0, burst=3, clock=clock, sleep=never_sleep)
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]
    clock.advance(0.25)
    assert [bucket.try_acquire() for _ in range(2)] == [True, False]
    clock.advance(3600)  # a long idle period banks no more than `burst` permits
    assert [bucket.try_acquire() for _ in range(4)] == [True, True, True, False]


def test_acquire_returns_the_time_waited() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock, sleep=clock.sleep)
    assert (bucket.acquire(), bucket.acquire()) == (0.0, 0.0)
    clock.advance(0.25)
    assert bucket.acquire() == pytest.approx(0.75)


def test_try_acquire_never_sleeps() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=0.001, burst=1, clock=clock, sleep=never_sleep)
    assert bucket.try_acquire()
    assert not any(bucket.try_acquire() for _ in range(100))


@pytest.mark.parametrize(("rate", "burst", "seed"), [(2.0, 1, 1), (2.0, 4, 2), (10.0, 3, 3), (0.5, 2, 4), (97.3, 1, 5)])
def test_no_window_ever_exceeds_rate_times_t_plus_burst(rate: float, burst: int, seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock(start=rng.uniform(0, 1e4))
    bucket = TokenBucket(rate=rate, burst=burst, clock=clock, sleep=clock.sleep)
    grants: list[float] = []
    for _ in range(3000):
        clock.advance(rng.choice([0.0, 0.0, rng.expovariate(rate), rng.uniform(0, 5 / rate)]))
        if rng.random() < 0.5:
            bucket.acquire()
            grants.append(clock())
        elif bucket.try_acquire():
            grants.append(clock())
    assert len(grants) > 1000
    # Grants i..j (inclusive) in [t_i, t_j] must satisfy j - i + 1 <= rate·(t_j - t_i) + burst. With
    # a_j = j - rate·t_j and b_i = i - 1 - rate·t_i that is a_j - min(b_i for i <= j) <= burst: one pass.
    lowest_b = float("inf")
    worst = float("-inf")
    for k, t in enumerate(grants):
        lowest_b = min(lowest_b, k - 1 - rate * t)
        worst = max(worst, (k - rate * t) - lowest_b)
    assert worst <= burst + 1e-6 * rate


def test_burst_is_used_when_available() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate=1.0, burst=5, clock=clock, sleep=clock.sleep)
    assert [bucket.acquire() for _ in range(5)] == [0.0] * 5
    assert bucket.acquire() == pytest.approx(1.0)


@pytest.mark.parametrize("rate", [0, -1.0, float("nan"), "2", None, True])
def test_invalid_rate(rate: object) -> None:
    with pytest.raises(NepseInputError, match="rate"):
        TokenBucket(rate=rate)  # type: ignore[arg-type]


@pytest.mark.parametrize("burst", [0, -1, 1.5, "1", None, True])
def test_invalid_burst(burst: object) -> None:
    with pytest.raises(NepseInputError, match="burst"):
        TokenBucket(burst=burst)  # type: ignore[arg-type]


def test_threads_never_share_out_more_than_burst_permits() -> None:
    clock = FakeClock()  # frozen: no refill, so exactly `burst` permits exist
    bucket = TokenBucket(rate=1.0, burst=50_000, clock=clock, sleep=never_sleep)
    start = threading.Barrier(8)
    granted = [0] * 8

    def hammer(slot: int) -> None:
        start.wait()
        granted[slot] = sum(bucket.try_acquire() for _ in range(10_000))

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 50_000


def test_slots_and_repr() -> None:
    bucket = TokenBucket(rate=2.5, burst=3)
    assert not hasattr(bucket, "__dict__")
    assert repr(bucket) == "TokenBucket(rate=2.5, burst=3)"


def test_next_permit_at_names_the_moment_try_acquire_succeeds() -> None:
    clock = FakeClock(start=100.0)
    bucket = TokenBucket(rate=4.0, burst=1, clock=clock, sleep=never_sleep)
    assert bucket.next_permit_at() <= 100.0 and bucket.try_acquire()
    assert bucket.next_permit_at() == pytest.approx(100.25)
    clock.advance(0.2499)
    assert not bucket.try_acquire()
    clock.now = bucket.next_permit_at()
    assert bucket.try_acquire()


def test_next_permit_at_counts_the_burst() -> None:
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock, sleep=never_sleep)
    assert [bucket.try_acquire() for _ in range(3)] == [True, True, True]
    assert bucket.next_permit_at() == pytest.approx(0.5)


def test_pause_holds_every_caller_then_resumes_at_the_rate() -> None:
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=2.0, burst=3, clock=clock, sleep=clock.sleep)
    bucket.pause(5.0)
    assert not bucket.try_acquire() and bucket.next_permit_at() == pytest.approx(5.0)
    assert bucket.acquire() == pytest.approx(5.0)
    assert bucket.acquire() == pytest.approx(0.5)  # no burst banked during the pause


def test_a_shorter_pause_never_shortens_a_longer_one() -> None:
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock, sleep=never_sleep)
    bucket.pause(5.0)
    bucket.pause(1.0)
    assert bucket.next_permit_at() == pytest.approx(5.0)


def test_an_urgent_caller_takes_the_next_permit_before_waiting_bulk_callers() -> None:
    clock = FakeClock(start=0.0)
    bucket = TokenBucket(rate=2.0, burst=1, clock=clock, sleep=never_sleep)
    assert bucket.try_acquire()
    bucket._urgent = 1  # an urgent caller is asleep until the next permit (at 0.5 s)
    clock.now = 0.5

    assert not bucket.try_acquire()  # a bulk caller waking at the same moment leaves it alone
    bucket._urgent = 0
    assert bucket.try_acquire()


def test_urgent_and_bulk_threads_share_the_rate_and_the_urgent_one_goes_first() -> None:
    bucket = TokenBucket(rate=20.0, burst=1)
    order: list[str] = []
    bucket.acquire()  # the next permit is 50 ms away

    def take(kind: str, urgent: bool) -> None:
        bucket.acquire(urgent=urgent)
        order.append(kind)

    urgent = threading.Thread(target=take, args=("urgent", True))
    urgent.start()
    while not bucket._urgent and urgent.is_alive():  # it is asleep, waiting for the next permit
        pass
    bulk = [threading.Thread(target=take, args=("bulk", False)) for _ in range(3)]
    for thread in bulk:
        thread.start()
    for thread in [urgent, *bulk]:
        thread.join()

    assert order == ["urgent", "bulk", "bulk", "bulk"]
