"""The token obfuscation used by nepalstock.com, in pure Python.

``/api/authenticate/prove`` returns tokens with five junk characters inserted. Their positions depend only on
the last three decimal digits of one salt (salt2 for the access token, salt1 for the refresh token) and a
40-entry lookup table taken from the site's ``css.wasm``. The client strips them; the simulator inserts them.

>>> junk_positions(12345)
(25, 42, 70, 95, 116)
>>> strip_junk(insert_junk("x" * 130, 12345, "*****"), 12345) == "x" * 130
True
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import NepseInputError

#: The lookup table in the data segment of css.wasm (only indices 0..27 are reachable).
JUNK_TABLE: tuple[int, ...] = (
    5, 8, 4, 7, 9, 4, 6, 9, 5, 5, 6, 5, 3, 5, 4, 4, 9, 6, 6, 8,
    8, 6, 8, 6, 5, 8, 4, 9, 5, 9, 8, 5, 3, 4, 7, 7, 4, 7, 3, 9,
)  # fmt: skip

#: Salts travel as i32 through the site's module, so larger values have no defined meaning.
MAX_SALT = 2**31 - 1

JunkPositions = tuple[int, int, int, int, int]
#: salt1..salt5 of one prove, in order.
Salts = tuple[int, int, int, int, int]


def validate_salt(salt: object) -> int:
    """Return ``salt`` if it is a usable salt, else raise :class:`NepseInputError`."""
    if isinstance(salt, bool) or not isinstance(salt, int):
        raise NepseInputError(f"a salt must be an int, got {type(salt).__name__}; pass the salt1..salt5 numbers")
    if salt < 0 or salt > MAX_SALT:
        raise NepseInputError(f"a salt must be between 0 and {MAX_SALT}, got {salt}")
    return salt


def junk_positions(salt: int) -> JunkPositions:
    """The five ascending indices of the junk characters for ``salt`` (the ``cdx``..``mdx`` exports)."""
    validate_salt(salt)
    units, tens, hundreds = salt % 10, salt // 10 % 10, salt // 100 % 10
    base = JUNK_TABLE[units + tens + hundreds]
    return (
        base + 22,
        base + tens + hundreds + 32,
        base + tens + hundreds + 60,
        base + tens + 88,
        base + hundreds + 110,
    )


def strip_junk(obfuscated: str, salt: int) -> str:
    """Remove the five junk characters that the server inserted into ``obfuscated``."""
    positions = junk_positions(salt)
    if len(obfuscated) <= positions[-1]:
        raise NepseInputError(
            f"token too short to de-obfuscate: {len(obfuscated)} characters, but this salt needs more than "
            f"{positions[-1]}; is this the raw token from /api/authenticate/prove?"
        )
    p1, p2, p3, p4, p5 = positions
    return (
        obfuscated[:p1]
        + obfuscated[p1 + 1 : p2]
        + obfuscated[p2 + 1 : p3]
        + obfuscated[p3 + 1 : p4]
        + obfuscated[p4 + 1 : p5]
        + obfuscated[p5 + 1 :]
    )


def insert_junk(token: str, salt: int, fillers: Sequence[str]) -> str:
    """Insert one filler character at each junk position, in ascending order (what the server does)."""
    if len(fillers) != 5 or any(len(f) != 1 for f in fillers):
        raise NepseInputError("insert_junk needs exactly five single-character fillers")
    positions = junk_positions(salt)
    if len(token) + 4 < positions[-1]:
        raise NepseInputError(
            f"token too short to obfuscate: {len(token)} characters, this salt needs at least {positions[-1] - 4}"
        )
    result = token
    for position, filler in zip(positions, fillers, strict=True):
        result = result[:position] + filler + result[position:]
    return result


def strip_access_token(obfuscated: str, salts: Sequence[int]) -> str:
    """De-obfuscate an access token: it is keyed by salt2."""
    return strip_junk(obfuscated, salts[1])


def strip_refresh_token(obfuscated: str, salts: Sequence[int]) -> str:
    """De-obfuscate a refresh token: it is keyed by salt1."""
    return strip_junk(obfuscated, salts[0])
