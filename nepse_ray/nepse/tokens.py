"""The token obfuscation used by nepalstock.com, in pure Python.

``/api/authenticate/prove`` returns tokens with junk characters inserted. Their positions depend only on one salt
(salt2 for the access token, salt1 for the refresh token) and the site's ``css.wasm``: each of its exports
``cdx``, ``rdx``, ... gives one position. The module in use since 2023-02-15 (:data:`BUILTIN_SCHEME`) computes five
positions from the last three decimal digits of the salt and a 40-entry lookup table. The client strips them; the
simulator inserts them. A :class:`JunkScheme` is one such module's arithmetic: its table and one
:class:`PositionFormula` per export; the site changed both once already (before 2023 it deleted two characters).

>>> junk_positions(12345)
(25, 42, 70, 95, 116)
>>> strip_junk(insert_junk("x" * 130, 12345, "*****"), 12345) == "x" * 130
True
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from .errors import NepseInputError

#: The lookup table in the data segment of css.wasm (only indices 0..27 are reachable).
JUNK_TABLE: tuple[int, ...] = (
    5, 8, 4, 7, 9, 4, 6, 9, 5, 5, 6, 5, 3, 5, 4, 4, 9, 6, 6, 8,
    8, 6, 8, 6, 5, 8, 4, 9, 5, 9, 8, 5, 3, 4, 7, 7, 4, 7, 3, 9,
)  # fmt: skip

#: Salts travel as i32 through the site's module, so larger values have no defined meaning.
MAX_SALT = 2**31 - 1
#: The names of the module's position exports, in the order of the positions they give.
POSITION_EXPORTS = ("cdx", "rdx", "bdx", "ndx", "mdx")

JunkPositions = tuple[int, ...]
#: salt1..salt5 of one prove, in order.
Salts = tuple[int, int, int, int, int]


@dataclasses.dataclass(frozen=True, slots=True)
class PositionFormula:
    """One export's position: ``T[u + t + h] + constant``, plus the tens digit ``t`` and the hundreds digit ``h``
    of the salt where asked."""

    constant: int
    tens: bool = False
    hundreds: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class JunkScheme:
    """The arithmetic of one css.wasm: its lookup table and the formula of each position export, in order."""

    table: tuple[int, ...]
    formulas: tuple[PositionFormula, ...]

    def positions(self, salt: int) -> JunkPositions:
        """The ascending junk positions for ``salt``."""
        validate_salt(salt)
        units, tens, hundreds = salt % 10, salt // 10 % 10, salt // 100 % 10
        base = self.table[units + tens + hundreds]
        return tuple(
            base + f.constant + (tens if f.tens else 0) + (hundreds if f.hundreds else 0) for f in self.formulas
        )


#: The site's module since 2023-02-15 (SHA-256 b4fcbf19...): five deletions.
BUILTIN_SCHEME = JunkScheme(
    JUNK_TABLE,
    (
        PositionFormula(22),
        PositionFormula(32, tens=True, hundreds=True),
        PositionFormula(60, tens=True, hundreds=True),
        PositionFormula(88, tens=True),
        PositionFormula(110, hundreds=True),
    ),
)


def validate_salt(salt: object) -> int:
    """Return ``salt`` if it is a usable salt, else raise :class:`NepseInputError`."""
    if isinstance(salt, bool) or not isinstance(salt, int):
        raise NepseInputError(f"a salt must be an int, got {type(salt).__name__}; pass the salt1..salt5 numbers")
    if salt < 0 or salt > MAX_SALT:
        raise NepseInputError(f"a salt must be between 0 and {MAX_SALT}, got {salt}")
    return salt


def junk_positions(salt: int, scheme: JunkScheme = BUILTIN_SCHEME) -> JunkPositions:
    """The ascending indices of the junk characters for ``salt`` (the ``cdx``.. exports of ``scheme``'s module)."""
    return scheme.positions(salt)


def ascending(positions: Sequence[int]) -> bool:
    """Whether ``positions`` is a non-empty run of distinct, non-negative, ascending indices."""
    return bool(positions) and positions[0] >= 0 and all(a < b for a, b in itertools.pairwise(positions))


def check_positions(positions: Sequence[int], length: int) -> None:
    """Raise :class:`NepseInputError` unless ``positions`` strictly ascend inside an obfuscated token of ``length``."""
    if not ascending(positions):
        raise NepseInputError("junk positions must be distinct, non-negative and ascending")
    if length <= positions[-1]:
        raise NepseInputError(
            f"token too short to de-obfuscate: {length} characters, but its junk positions need more than "
            f"{positions[-1]}; is this the raw token from /api/authenticate/prove?"
        )


def strip_at(obfuscated: str, positions: Sequence[int]) -> str:
    """``obfuscated`` without the characters at ``positions`` (checked first with :func:`check_positions`)."""
    check_positions(positions, len(obfuscated))
    pieces, start = [], 0
    for position in positions:
        pieces.append(obfuscated[start:position])
        start = position + 1
    pieces.append(obfuscated[start:])
    return "".join(pieces)


def strip_junk(obfuscated: str, salt: int, scheme: JunkScheme = BUILTIN_SCHEME) -> str:
    """Remove the junk characters that the server inserted into ``obfuscated``."""
    return strip_at(obfuscated, junk_positions(salt, scheme))


def insert_junk(token: str, salt: int, fillers: Sequence[str], scheme: JunkScheme = BUILTIN_SCHEME) -> str:
    """Insert one filler character at each junk position, in ascending order (what the server does)."""
    positions = junk_positions(salt, scheme)
    if len(fillers) != len(positions) or any(len(f) != 1 for f in fillers):
        raise NepseInputError(f"insert_junk needs exactly {len(positions)} single-character fillers")
    if len(token) + len(positions) - 1 < positions[-1]:
        raise NepseInputError(
            f"token too short to obfuscate: {len(token)} characters, this salt needs at least "
            f"{positions[-1] - len(positions) + 1}"
        )
    result = token
    for position, filler in zip(positions, fillers, strict=True):
        result = result[:position] + filler + result[position:]
    return result


def strip_access_token(obfuscated: str, salts: Sequence[int]) -> str:
    """De-obfuscate an access token with the built-in scheme: it is keyed by salt2."""
    return strip_junk(obfuscated, salts[1])


def strip_refresh_token(obfuscated: str, salts: Sequence[int]) -> str:
    """De-obfuscate a refresh token with the built-in scheme: it is keyed by salt1."""
    return strip_junk(obfuscated, salts[0])
