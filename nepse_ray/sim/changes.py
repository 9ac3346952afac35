"""Site changes: the simulator as a site that changed the way NEPSE's has, one named change at a time.

NEPSE changes without notice (the protocol notes' histories): its token module's table and code, the payload
variant and day term of signed ids, fields of an answer, GET endpoints turned into signed POSTs. Each change in
:data:`CHANGES` makes the simulator differ from what nepse-ray knows in one such way, so a test can check that the
client heals where it can and ``nepse-ray doctor`` names what changed. Switch them on with
``SimConfig(changes=("wasm-table",))``, ``Simulator(changes=[...])``, ``SimulatorProcess(changes=[...])``,
``POST /_sim/config {"changes": [...]}`` or ``nepse-ray sim --change NAME`` (repeatable); ``/_sim/stats`` lists
those in force under ``site_changes``.

A change is ``NAME`` or ``NAME:ARGUMENT``: ``field-rename:ENDPOINT.FIELD[=NEW]``, ``field-drop:ENDPOINT.FIELD``,
``get-to-post:ENDPOINT`` (defaults in :data:`CHANGES`).

>>> changes = site_changes(["payload-variant", "field-drop:live_market.lastTradedPrice"])
>>> changes.variant("floorsheet").value
'general'
>>> changes.rewrite("live_market", b'[{"symbol": "NABIL", "lastTradedPrice": 512.0}]')
b'[{"symbol":"NABIL"}]'
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any, Literal, get_args

from ..nepse.endpoints import CATALOGUE
from ..nepse.payload import VARIANT_BY_ENDPOINT, PayloadVariant
from ..nepse.tokens import BUILTIN_SCHEME, JUNK_TABLE, JunkScheme, PositionFormula
from .wire import encode

ChangeName = Literal[
    "wasm-table", "wasm-scheme", "payload-variant", "day-term", "field-rename", "field-drop", "get-to-post"
]
CHANGE_NAMES: tuple[ChangeName, ...] = get_args(ChangeName)

#: ``wasm-table``: the built-in code with a new table (every entry one larger, so every position moves).
NEW_TABLE = tuple(value + 1 for value in JUNK_TABLE)
#: The table of the site's scheme before 2023-02-15 (the protocol notes' history).
PRE_2023_TABLE = (
    9, 8, 4, 1, 2, 3, 2, 5, 8, 7, 9, 8, 0, 3, 1, 2, 2, 4, 3, 0,
    1, 9, 5, 4, 6, 3, 7, 2, 1, 6, 9, 8, 4, 1, 2, 2, 3, 3, 4, 4,
)  # fmt: skip
#: ``wasm-scheme``: a change of code modelled on the pre-2023 scheme: its table and two deletions, ``T[S] + 22`` and
#: ``T[S] + t + h + 32`` (the second kept 10 past the first, as today's ``rdx`` is, so the two never coincide).
TWO_DELETION_SCHEME = JunkScheme(PRE_2023_TABLE, (PositionFormula(22), PositionFormula(32, tens=True, hundreds=True)))


@dataclasses.dataclass(frozen=True, slots=True)
class Change:
    """One named change: what it does, and its default argument where it takes one."""

    name: ChangeName
    what: str
    default: str | None = None


CHANGES: Mapping[ChangeName, Change] = {
    c.name: c
    for c in (
        Change("wasm-table", "a new lookup table in css.wasm and in the tokens' obfuscation (same code)"),
        Change("wasm-scheme", "new css.wasm code: the pre-2023 table and two deletions instead of five"),
        Change("payload-variant", "the floorsheet is signed with the general variant instead of its own"),
        Change("day-term", "payload ids are signed with the day of market-open's asOf instead of today in Nepal "
                           "(they differ when the served day is not today)"),
        Change("field-rename", "one field of one endpoint renamed", "live_market.symbol=symbolCode"),
        Change("field-drop", "one field of one endpoint left out", "live_market.lastTradedPrice"),
        Change("get-to-post", "one GET endpoint answers 405 unless called as a POST signed with the base id",
               "market_summary"),
    )
}  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class SiteChanges:
    """The changes in force, ready for the server: its token scheme, signing, answers and methods."""

    specs: tuple[str, ...] = ()
    scheme: JunkScheme = BUILTIN_SCHEME
    day_source: Literal["asof"] | None = None
    variants: Mapping[str, PayloadVariant] = dataclasses.field(default_factory=dict)
    renamed: tuple[tuple[str, str, str | None], ...] = ()  # (endpoint, field, new name or None: dropped)
    post_only: frozenset[str] = frozenset()

    def variant(self, endpoint: str) -> PayloadVariant | None:
        """The variant ``endpoint``'s body id must follow, ``None`` for an unsigned endpoint."""
        if endpoint in self.post_only:
            return PayloadVariant.BASE
        return self.variants.get(endpoint, VARIANT_BY_ENDPOINT.get(endpoint))

    def rewrite(self, endpoint: str, body: bytes) -> bytes:
        """``body`` with the renamed and dropped fields of ``endpoint`` changed in every row (unchanged if none)."""
        fields = [(field, new) for name, field, new in self.renamed if name == endpoint]
        if not fields:
            return body
        value = json.loads(body)
        for row in _rows(value):
            for field, new in fields:
                if field in row:
                    moved = row.pop(field)
                    if new is not None:
                        row[new] = moved
        return encode(value)

    def describe(self) -> list[dict[str, str]]:
        """What ``/_sim/stats`` shows: each change in force and what it does."""
        return [{"change": spec, "what": CHANGES[_name(spec)].what} for spec in self.specs]


def _rows(value: Any) -> list[dict[str, Any]]:
    """The objects a field belongs to: a list's rows, a Spring page's content (wrapped or not), or the object."""
    if isinstance(value, list):
        return [row for row in value if isinstance(row, dict)]
    if not isinstance(value, dict):
        return []
    page = value.get("floorsheets", value)
    if isinstance(page, dict) and isinstance(page.get("content"), list):
        return [row for row in page["content"] if isinstance(row, dict)]
    return [value]


def _name(spec: str) -> ChangeName:
    name = spec.partition(":")[0]
    if name not in CHANGES:
        raise ValueError(f"unknown site change {name!r}; choose from {', '.join(CHANGE_NAMES)}")
    return name  # type: ignore[return-value]


def normalise(spec: str) -> str:
    """``spec`` with its default argument filled in; ValueError for an unknown change or a bad argument."""
    name = _name(spec)
    change = CHANGES[name]
    argument = spec.partition(":")[2] or change.default
    if change.default is None:
        if argument:
            raise ValueError(f"site change {name} takes no argument")
        return name
    assert argument is not None
    endpoint, _, field = argument.partition(".")
    if endpoint not in CATALOGUE:
        raise ValueError(f"site change {name}: unknown endpoint {endpoint!r}")
    if name == "get-to-post":
        if field or CATALOGUE[endpoint].method != "GET":
            raise ValueError(f"site change {name} takes a GET endpoint's name, got {argument!r}")
        return f"{name}:{endpoint}"
    field, _, new = field.partition("=")
    if not field or (name == "field-drop" and new) or (name == "field-rename" and not new):
        form = "ENDPOINT.FIELD=NEW" if name == "field-rename" else "ENDPOINT.FIELD"
        raise ValueError(f"site change {name} takes {form}, got {argument!r}")
    return f"{name}:{endpoint}.{field}" + (f"={new}" if new else "")


@functools.cache
def _parsed(specs: tuple[str, ...]) -> SiteChanges:
    scheme, variants, renamed, post_only = BUILTIN_SCHEME, {}, [], set()
    day_source: Literal["asof"] | None = None
    for spec in specs:
        name, _, argument = spec.partition(":")
        if name == "wasm-table":
            scheme = JunkScheme(NEW_TABLE, scheme.formulas)
        elif name == "wasm-scheme":
            scheme = TWO_DELETION_SCHEME
        elif name == "payload-variant":
            variants["floorsheet"] = PayloadVariant.GENERAL
        elif name == "day-term":
            day_source = "asof"
        elif name == "get-to-post":
            post_only.add(argument)
        else:
            endpoint, _, field = argument.partition(".")
            field, _, new = field.partition("=")
            renamed.append((endpoint, field, new or None))
    return SiteChanges(specs, scheme, day_source, variants, tuple(renamed), frozenset(post_only))


def site_changes(specs: Iterable[str]) -> SiteChanges:
    """The :class:`SiteChanges` of ``specs`` (names or ``NAME:ARGUMENT``), parsed once per set."""
    return _parsed(tuple(normalise(spec) for spec in specs))
