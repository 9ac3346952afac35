"""POST payload ids: the worked example, every branch of every variant, the tables."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from nepse_ray.nepse.endpoints import CATALOGUE
from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.payload import (
    DUMMY_DATA,
    FALLBACK_VARIANT,
    NEPAL_TZ,
    VARIANT_BY_ENDPOINT,
    PayloadVariant,
    base_payload_id,
    nepal_today,
    payload_id,
)

SALTS = (27431, 76353, 65229, 91802, 38487)

#: Which salt pair (a, b) gives ``e + s_a·d - s_b``, per variant, for last digits below / at-or-above the
#: threshold — restated from the protocol's formulas so the test does not reuse the implementation's branches.
RULES = {
    PayloadVariant.GENERAL: (5, (4, 3), (2, 1)),
    PayloadVariant.FLOORSHEET: (4, (2, 1), (4, 3)),
    PayloadVariant.B: (5, (2, 1), (4, 3)),
}


def test_worked_example() -> None:
    assert base_payload_id(80, 12) == 261
    assert payload_id(PayloadVariant.GENERAL, market_id=80, day=12, salts=SALTS) == 1036656
    assert payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=12, salts=SALTS) == 889066
    assert payload_id(PayloadVariant.BASE, market_id=80, day=12, salts=SALTS) == 261


def test_dummy_table_spot_values() -> None:
    assert len(DUMMY_DATA) == 100
    assert (DUMMY_DATA[0], DUMMY_DATA[80], DUMMY_DATA[99]) == (147, 157, 691)


def market_and_day_for_digit(digit: int) -> tuple[int, int]:
    for market_id in range(100):
        for day in range(1, 32):
            if (DUMMY_DATA[market_id] + market_id + 2 * day) % 10 == digit:
                return market_id, day
    raise AssertionError(f"no market id/day gives last digit {digit}")


@pytest.mark.parametrize("digit", range(10))
@pytest.mark.parametrize("variant", list(RULES))
def test_every_last_digit_of_every_signed_variant(variant: PayloadVariant, digit: int) -> None:
    market_id, day = market_and_day_for_digit(digit)
    e = DUMMY_DATA[market_id] + market_id + 2 * day
    threshold, low_pair, high_pair = RULES[variant]
    a, b = low_pair if digit < threshold else high_pair
    other_a, other_b = high_pair if digit < threshold else low_pair
    salts = SALTS
    expected = e + salts[a - 1] * day - salts[b - 1]
    assert expected != e + salts[other_a - 1] * day - salts[other_b - 1]  # the pairs are distinguishable
    assert payload_id(variant, market_id=market_id, day=day, salts=salts) == expected


@pytest.mark.parametrize("digit", range(10))
def test_base_variant_ignores_salts(digit: int) -> None:
    market_id, day = market_and_day_for_digit(digit)
    e = DUMMY_DATA[market_id] + market_id + 2 * day
    assert payload_id(PayloadVariant.BASE, market_id=market_id, day=day, salts=SALTS) == e
    assert payload_id(PayloadVariant.BASE, market_id=market_id, day=day, salts=(0, 0, 0, 0, 0)) == e


def test_salt5_is_never_used() -> None:
    for variant in PayloadVariant:
        ids = {payload_id(variant, market_id=80, day=d, salts=(*SALTS[:4], s5)) for d in (1, 12) for s5 in (0, 99)}
        assert len(ids) == 2  # varies with the day only


def test_variant_table_covers_exactly_the_post_endpoints() -> None:
    posts = {name for name, endpoint in CATALOGUE.items() if endpoint.method == "POST"}
    assert set(VARIANT_BY_ENDPOINT) == posts
    assert all(CATALOGUE[name].variant is variant for name, variant in VARIANT_BY_ENDPOINT.items())


def test_fallback_variants_are_other_variants_of_signed_endpoints() -> None:
    assert FALLBACK_VARIANT["today_price"] is PayloadVariant.FLOORSHEET
    for name, fallback in FALLBACK_VARIANT.items():
        assert fallback is not VARIANT_BY_ENDPOINT[name]


@pytest.mark.parametrize("market_id", [-1, 100, 1.0, True, "80", None])
def test_invalid_market_id(market_id: object) -> None:
    with pytest.raises(NepseInputError, match="market id"):
        payload_id(PayloadVariant.GENERAL, market_id=market_id, day=12, salts=SALTS)  # type: ignore[arg-type]


@pytest.mark.parametrize("day", [0, 32, -5, 12.0, True, "12"])
def test_invalid_day(day: object) -> None:
    with pytest.raises(NepseInputError, match="day"):
        payload_id(PayloadVariant.FLOORSHEET, market_id=80, day=day, salts=SALTS)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "salts", [SALTS[:4], (*SALTS, 1), (-1, *SALTS[1:]), (1.5, *SALTS[1:]), (*SALTS[:3], 2**31, 0), ()]
)
def test_invalid_salts(salts: tuple[object, ...]) -> None:
    with pytest.raises(NepseInputError):
        payload_id(PayloadVariant.B, market_id=80, day=12, salts=salts)  # type: ignore[arg-type]


def test_nepal_today_is_asia_kathmandu() -> None:
    assert NEPAL_TZ.key == "Asia/Kathmandu"
    assert dt.datetime(2026, 1, 15, 12, tzinfo=NEPAL_TZ).utcoffset() == dt.timedelta(hours=5, minutes=45)
    before = dt.datetime.now(ZoneInfo("Asia/Kathmandu")).date()
    today = nepal_today()
    after = dt.datetime.now(ZoneInfo("Asia/Kathmandu")).date()
    assert today in (before, after)
