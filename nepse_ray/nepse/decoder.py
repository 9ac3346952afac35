"""The token decoder: which junk positions to strip, and how to learn them again when the site's ``css.wasm`` changes.

Three decoders, by name (``stats``, health and metrics report it):

* ``builtin``: the positions of the module the site serves since 2023-02-15, in pure Python
  (:data:`~nepse_ray.nepse.tokens.BUILTIN_SCHEME`);
* ``site-table``: the same code with another lookup table, read from the served module's data segment in pure
  Python;
* ``site-module``: other code; the served module's exports (``cdx``, ``rdx``, ... those it has, in that order) are
  run with a pure-Python WebAssembly interpreter (:mod:`~nepse_ray.nepse.wasmrun`), each call bounded, and the
  positions of each salt cached.

:func:`classify_module` decides which from the served bytes: a SHA-256 in :data:`KNOWN_MODULES` is ``builtin``; a
module that becomes a known one once its table is replaced by the built-in table is ``site-table``; anything else
is run. A module over :data:`MAX_MODULE_BYTES`, with imports, that cannot be read, or whose calls are stopped or give
positions that are not ascending is refused with :class:`~nepse_ray.nepse.errors.NepseDecoderError`. What was
decided travels as a :class:`DecoderSpec` (plain data: a pool's coordinator holds it and hands it to its workers);
:func:`decoder_for` builds the decoder a spec names, once per process.

>>> from nepse_ray.sim.wasm import css_wasm
>>> spec = classify_module(css_wasm())
>>> spec.name, decoder_for(spec).positions(12345)
('builtin', (25, 42, 70, 95, 116))
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import threading
from collections.abc import Mapping
from typing import Literal, Protocol

from .cssmodule import ModuleFormatError, read_module, table_at, with_table
from .errors import NepseDecoderError
from .tokens import (
    BUILTIN_SCHEME,
    JUNK_TABLE,
    POSITION_EXPORTS,
    JunkPositions,
    JunkScheme,
    ascending,
    strip_at,
    validate_salt,
)

DecoderName = Literal["builtin", "site-table", "site-module"]
DECODER_NAMES: tuple[DecoderName, ...] = ("builtin", "site-table", "site-module")
#: Largest css.wasm nepse-ray accepts (the site's is 750 bytes).
MAX_MODULE_BYTES = 64 * 1024
#: The path the site serves its module at.
MODULE_PATH = "/assets/prod/css.wasm"
#: SHA-256 of the modules whose positions the built-in decoder gives.
KNOWN_MODULES: Mapping[str, str] = {
    "b4fcbf19e5ca67989d1ec45d59793dd6222b2e54a49915a7278f4c40bfedd4ec": "nepalstock.com's css.wasm since 2023-02-15",
    "5268ff14d26aed095033ce8b41bd7253b99671b6f451a89c4bdf21c66f91f2a3": "the nepse-ray simulator's css.wasm",
}
#: Largest table entry accepted from a module (the site's are 3..9; a position must stay inside a token).
MAX_TABLE_VALUE = 1000
#: Salts a new module is tried with before it is trusted: every table index is reached, and large salts too.
PROBE_SALTS = (0, 9, 34, 99, 199, 599, 999, 12345, 27431, 76353, 99999, 2**31 - 1)
#: Salts whose positions a ``site-module`` decoder keeps (two per prove).
POSITIONS_CACHED = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class DecoderSpec:
    """Which decoder to use: its name, the served module's SHA-256 when one was fetched, and what the decoder needs
    (the table of a ``site-table``, the bytes and position exports of a ``site-module``). Holds no secret."""

    name: DecoderName
    sha256: str | None = None
    table: tuple[int, ...] | None = None
    module: bytes | None = dataclasses.field(default=None, repr=False)
    exports: tuple[str, ...] = POSITION_EXPORTS


BUILTIN = DecoderSpec("builtin")


class TokenDecoder(Protocol):
    """Junk positions per salt; :func:`strip` removes them from a token."""

    @property
    def name(self) -> DecoderName: ...

    def positions(self, salt: int) -> JunkPositions: ...


def strip(decoder: TokenDecoder, obfuscated: str, salt: int) -> str:
    """``obfuscated`` without the junk characters ``decoder`` places for ``salt`` (positions checked first)."""
    return strip_at(obfuscated, decoder.positions(salt))


class SchemeDecoder:
    """The built-in arithmetic with a lookup table: ``builtin`` or ``site-table``."""

    __slots__ = ("_scheme", "name")

    def __init__(self, name: DecoderName, scheme: JunkScheme = BUILTIN_SCHEME) -> None:
        self.name: DecoderName = name
        self._scheme = scheme

    def positions(self, salt: int) -> JunkPositions:
        return self._scheme.positions(salt)


class ModuleDecoder:
    """The served module's exports, run with :class:`~nepse_ray.nepse.wasmrun.ModuleRunner`; positions cached per
    salt. A refused call raises :class:`NepseDecoderError`."""

    __slots__ = ("_cache", "_exports", "_lock", "_refused", "_runner", "name")

    def __init__(self, module: bytes, exports: tuple[str, ...]) -> None:
        self.name: DecoderName = "site-module"
        self._exports = exports
        self._cache: collections.OrderedDict[int, JunkPositions] = collections.OrderedDict()
        self._lock = threading.Lock()
        try:  # imported here: only a changed module needs the interpreter (and pywasm needs Python 3.11)
            from .wasmrun import ModuleRefused, ModuleRunner
        except ImportError:
            raise _refusal("running its new code needs pywasm, which needs Python 3.11 or newer") from None
        self._refused = ModuleRefused
        try:
            self._runner = ModuleRunner(module, exports=exports)
        except ModuleRefused as refused:
            raise _refusal(str(refused)) from None

    def positions(self, salt: int) -> JunkPositions:
        validate_salt(salt)
        with self._lock:
            cached = self._cache.get(salt)
            if cached is not None:
                self._cache.move_to_end(salt)
                return cached
        try:
            positions = tuple(self._runner.call(export, salt) for export in self._exports)
        except self._refused as refused:
            raise _refusal(str(refused)) from None
        with self._lock:
            self._cache[salt] = positions
            if len(self._cache) > POSITIONS_CACHED:
                self._cache.popitem(last=False)
        return positions


@functools.lru_cache(maxsize=8)
def decoder_for(spec: DecoderSpec) -> TokenDecoder:
    """The decoder ``spec`` names, built once per process (a ``site-module`` instantiates the module here)."""
    if spec.name == "site-table" and spec.table is not None:
        return SchemeDecoder("site-table", JunkScheme(spec.table, BUILTIN_SCHEME.formulas))
    if spec.name == "site-module" and spec.module is not None:
        return ModuleDecoder(spec.module, spec.exports)
    return SchemeDecoder("builtin")


def module_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def classify_module(data: bytes) -> DecoderSpec:
    """The decoder for a served css.wasm (see the module docstring); :class:`NepseDecoderError` if it is refused."""
    if len(data) > MAX_MODULE_BYTES:
        raise _refusal(f"it is {len(data):,} bytes, more than {MAX_MODULE_BYTES // 1024} KiB")
    sha = module_sha256(data)
    if sha in KNOWN_MODULES:
        return DecoderSpec("builtin", sha)
    try:
        facts = read_module(data)
    except ModuleFormatError as error:
        raise _refusal(f"it is not a readable WebAssembly module ({error})") from None
    if facts.imports:
        raise _refusal(f"it imports {facts.imports} thing(s); the site's module imports nothing")
    exports = tuple(name for name in POSITION_EXPORTS if name in facts.function_exports)
    if not exports or exports != POSITION_EXPORTS[: len(exports)]:
        raise _refusal(f"it does not export the position functions {', '.join(POSITION_EXPORTS)} from cdx on")
    table = table_at(facts)
    restored = with_table(facts, JUNK_TABLE) if table is not None else None
    if table is not None and restored is not None and module_sha256(restored) in KNOWN_MODULES:
        if not all(0 <= value <= MAX_TABLE_VALUE for value in table):
            raise _refusal(f"its table holds values outside 0..{MAX_TABLE_VALUE}")
        return DecoderSpec("site-table", sha, table=table)
    spec = DecoderSpec("site-module", sha, module=data, exports=exports)
    decoder = ModuleDecoder(data, exports)
    for salt in PROBE_SALTS:
        positions = decoder.positions(salt)
        if not ascending(positions):
            raise _refusal("its positions are not distinct, non-negative and ascending")
    return spec


def _refusal(why: str) -> NepseDecoderError:
    return NepseDecoderError(
        f"the site's token module ({MODULE_PATH}) changed and nepse-ray refuses the new one: {why}. nepse-ray "
        "cannot read tokens until it is updated; run nepse-ray doctor and report what it says",
        endpoint="css_wasm",
    )
