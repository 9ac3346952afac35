"""Junk positions and token (de-)obfuscation against worked positions of the site's css.wasm and a re-derivation."""

from __future__ import annotations

import random

import pytest

from nepse_ray.nepse.errors import NepseInputError
from nepse_ray.nepse.tokens import (
    MAX_SALT,
    insert_junk,
    junk_positions,
    strip_access_token,
    strip_junk,
    strip_refresh_token,
)

# The css.wasm table, copied from the module's data segment rather than imported, so a typo in tokens.py cannot hide.
NOTES_TABLE = [5, 8, 4, 7, 9, 4, 6, 9, 5, 5, 6, 5, 3, 5, 4, 4, 9, 6, 6, 8, 8, 6, 8, 6, 5, 8, 4, 9]


def positions_from_digits(salt: int) -> tuple[int, ...]:
    """A straightforward re-derivation: read the decimal digits off the string."""
    digits = str(salt).zfill(3)
    h, t, u = int(digits[-3]), int(digits[-2]), int(digits[-1])
    base = NOTES_TABLE[u + t + h]
    return (base + 22, base + t + h + 32, base + t + h + 60, base + t + 88, base + h + 110)


@pytest.mark.parametrize(
    ("salt", "expected"),
    [
        (0, (27, 37, 65, 93, 115)),
        (34, (31, 44, 72, 100, 119)),
        (999, (31, 59, 87, 106, 128)),
        (12345, (25, 42, 70, 95, 116)),
        (27431, (27, 44, 72, 96, 119)),
        (76353, (27, 45, 73, 98, 118)),
    ],
)
def test_worked_positions_of_the_sites_module(salt: int, expected: tuple[int, ...]) -> None:
    assert junk_positions(salt) == expected


def test_cdx_test_vector() -> None:
    # nepse-go's unit test: cdx(1, 2, 3, 4, 5) == 26, and cdx reads only its second argument.
    assert junk_positions(2)[0] == 26


@pytest.mark.parametrize("salt", range(1000))
def test_every_three_digit_salt(salt: int) -> None:
    positions = junk_positions(salt)
    assert positions == positions_from_digits(salt)
    p1, p2, p3, p4, p5 = positions
    assert p1 < p2 < p3 < p4 < p5
    assert 25 <= p1 <= 31
    assert p5 <= 128
    token = "".join(random.Random(salt).choices("abcdefghijklmnopqrstuvwxyz0123456789-_.", k=p5 - 4 + salt % 40))
    obfuscated = insert_junk(token, salt, "!@^~|")
    assert len(obfuscated) == len(token) + 5
    assert [obfuscated[p] for p in positions] == list("!@^~|")
    assert strip_junk(obfuscated, salt) == token


@pytest.mark.parametrize("salt", [1000, 1999, 123_456_789, 2**31 - 1, 10**9 + 999])
def test_large_salts_use_only_the_last_three_digits(salt: int) -> None:
    assert junk_positions(salt) == junk_positions(salt % 1000) == positions_from_digits(salt)


def test_largest_salt_equals_its_last_three_digits() -> None:
    assert junk_positions(10**9 + 999) == junk_positions(999)
    assert junk_positions(MAX_SALT) == junk_positions(647)


@pytest.mark.parametrize("salt", [-1, -1000, 2**31, 10**12])
def test_out_of_range_salts_are_rejected(salt: int) -> None:
    with pytest.raises(NepseInputError, match="between 0 and"):
        junk_positions(salt)


@pytest.mark.parametrize("salt", [1.0, 27431.5, True, False, "27431", None])
def test_non_int_salts_are_rejected(salt: object) -> None:
    with pytest.raises(NepseInputError, match="must be an int"):
        junk_positions(salt)  # type: ignore[arg-type]


def test_strip_rejects_a_token_too_short_for_its_salt() -> None:
    p5 = junk_positions(999)[-1]
    assert strip_junk("x" * (p5 + 1), 999) == "x" * (p5 - 4)  # the shortest acceptable token
    with pytest.raises(NepseInputError, match="too short"):
        strip_junk("x" * p5, 999)
    with pytest.raises(NepseInputError, match="too short"):
        strip_junk("", 0)


def test_insert_boundaries_and_rejections() -> None:
    p5 = junk_positions(0)[-1]
    assert insert_junk("y" * (p5 - 4), 0, "abcde")[-1] == "e"  # the last filler lands at the very end
    with pytest.raises(NepseInputError, match="too short"):
        insert_junk("y" * (p5 - 5), 0, "abcde")
    with pytest.raises(NepseInputError, match="exactly 5 single-character"):
        insert_junk("y" * 200, 0, "abcd")
    with pytest.raises(NepseInputError, match="exactly 5 single-character"):
        insert_junk("y" * 200, 0, ["a", "b", "c", "d", "ee"])


def test_access_token_uses_salt2_and_refresh_token_salt1() -> None:
    salts = (34, 999, 0, 0, 0)
    token = "t" * 140
    access = insert_junk(token, 999, "12345")
    refresh = insert_junk(token, 34, "12345")
    assert strip_access_token(access, salts) == token
    assert strip_refresh_token(refresh, salts) == token
    assert strip_access_token(refresh, salts) != token  # the salts are not interchangeable
