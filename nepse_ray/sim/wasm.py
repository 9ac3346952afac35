"""The simulator's ``/assets/prod/css.wasm``: a WebAssembly module emitted byte by byte.

It has the same interface as the site's module: five exports ``cdx``, ``rdx``, ``bdx``, ``ndx`` and ``mdx``,
each ``(i32 x5) -> i32``, that read only their second argument (the salt) and return one junk position, plus
a ``memory`` export whose data segment holds :data:`~nepse_ray.nepse.tokens.JUNK_TABLE` at address 1024 as
little-endian i32 values. The arithmetic is signed truncating division and remainder, as in the original.

``css_wasm(scheme)`` builds the module of another :class:`~nepse_ray.nepse.tokens.JunkScheme` the same way: its
table in the data segment and one export per position formula (the simulator's site changes serve these).
:func:`hostile_module` builds modules a decoder must refuse (too big, with an import, an endless loop, positions
that descend, no position exports), for the tests and the benchmark.

>>> css_wasm()[:8] == b"\\x00asm\\x01\\x00\\x00\\x00"
True
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Mapping
from typing import Literal

from ..nepse.tokens import BUILTIN_SCHEME, POSITION_EXPORTS, JunkScheme, PositionFormula

TABLE_ADDRESS = 1024

_I32 = 0x7F
_FUNC_TYPE = 0x60
_EXPORT_FUNC, _EXPORT_MEMORY = 0x00, 0x02
_SECTION_TYPE, _SECTION_FUNCTION, _SECTION_MEMORY, _SECTION_EXPORT, _SECTION_CODE, _SECTION_DATA = 1, 3, 5, 7, 10, 11
_SECTION_CUSTOM, _SECTION_IMPORT = 0, 2
_LOCAL_GET, _LOCAL_SET, _I32_LOAD, _I32_CONST, _END = 0x20, 0x21, 0x28, 0x41, 0x0B
_LOOP, _BR, _VOID = 0x03, 0x0C, 0x40
_I32_ADD, _I32_DIV_S, _I32_REM_S, _I32_SHL = 0x6A, 0x6D, 0x6F, 0x74

# Local indices: params 0..4 (the salt is 1), then three i32 locals for tens digit, hundreds digit, T[S].
_SALT, _TENS, _HUNDREDS, _TABLE_VALUE = 1, 5, 6, 7


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def _vec(items: Iterable[bytes]) -> bytes:
    items = list(items)
    return _uleb(len(items)) + b"".join(items)


def _name(text: str) -> bytes:
    raw = text.encode()
    return _uleb(len(raw)) + raw


def _section(section_id: int, content: bytes) -> bytes:
    return bytes([section_id]) + _uleb(len(content)) + content


def _const(value: int) -> bytes:
    return bytes([_I32_CONST]) + _sleb(value)


def _get(local: int) -> bytes:
    return bytes([_LOCAL_GET, local])


def _set(local: int) -> bytes:
    return bytes([_LOCAL_SET, local])


def _digit(divisor: int) -> bytes:
    """``(salt / divisor) % 10`` with signed truncating arithmetic."""
    return _get(_SALT) + _const(divisor) + bytes([_I32_DIV_S]) + _const(10) + bytes([_I32_REM_S])


def _function_body(formula: PositionFormula) -> bytes:
    lookup = (
        _get(_SALT)
        + _const(10)
        + bytes([_I32_REM_S])
        + _get(_TENS)
        + bytes([_I32_ADD])
        + _get(_HUNDREDS)
        + bytes([_I32_ADD])
        + _const(2)
        + bytes([_I32_SHL, _I32_LOAD])
        + _uleb(2)  # alignment 2**2
        + _uleb(TABLE_ADDRESS)  # static offset of the table
    )
    code = _digit(10) + _set(_TENS) + _digit(100) + _set(_HUNDREDS) + lookup + _set(_TABLE_VALUE) + _get(_TABLE_VALUE)
    for local, used in ((_TENS, formula.tens), (_HUNDREDS, formula.hundreds)):
        if used:
            code += _get(local) + bytes([_I32_ADD])
    code += _const(formula.constant) + bytes([_I32_ADD, _END])
    body = _vec([_uleb(3) + bytes([_I32])]) + code  # one declaration: three i32 locals
    return _uleb(len(body)) + body


@functools.cache
def css_wasm(scheme: JunkScheme = BUILTIN_SCHEME) -> bytes:
    """The bytes of ``scheme``'s module (built once per process and scheme)."""
    names = POSITION_EXPORTS[: len(scheme.formulas)]
    func_type = bytes([_FUNC_TYPE]) + _vec([bytes([_I32])] * 5) + _vec([bytes([_I32])])
    table = b"".join(struct.pack("<i", value) for value in scheme.table)
    exports = [_name(name) + bytes([_EXPORT_FUNC]) + _uleb(i) for i, name in enumerate(names)]
    exports.append(_name("memory") + bytes([_EXPORT_MEMORY]) + _uleb(0))
    data_segment = _uleb(0) + _const(TABLE_ADDRESS) + bytes([_END]) + _uleb(len(table)) + table
    return b"".join(
        (
            b"\x00asm\x01\x00\x00\x00",
            _section(_SECTION_TYPE, _vec([func_type])),
            _section(_SECTION_FUNCTION, _vec([_uleb(0)] * len(names))),
            _section(_SECTION_MEMORY, _vec([b"\x00" + _uleb(1)])),  # one page, no maximum
            _section(_SECTION_EXPORT, _vec(exports)),
            _section(_SECTION_CODE, _vec(_function_body(formula) for formula in scheme.formulas)),
            _section(_SECTION_DATA, _vec([data_segment])),
        )
    )


HostileKind = Literal["too-big", "imports", "endless-loop", "descending", "no-exports"]


def _plain_module(bodies: Mapping[str, bytes], *, imports: int = 0, padding: int = 0) -> bytes:
    """A module of position exports with the given code (no locals), ``imports`` imported functions of the same
    type, and a custom section of ``padding`` bytes."""
    func_type = bytes([_FUNC_TYPE]) + _vec([bytes([_I32])] * 5) + _vec([bytes([_I32])])
    imported = [_name("env") + _name(f"f{n}") + b"\x00" + _uleb(0) for n in range(imports)]
    exports = [_name(name) + bytes([_EXPORT_FUNC]) + _uleb(imports + i) for i, name in enumerate(bodies)]
    exports.append(_name("memory") + bytes([_EXPORT_MEMORY]) + _uleb(0))
    code = [_uleb(len(_vec([]) + body)) + _vec([]) + body for body in bodies.values()]
    sections = [
        b"\x00asm\x01\x00\x00\x00",
        _section(_SECTION_TYPE, _vec([func_type])),
        _section(_SECTION_IMPORT, _vec(imported)) if imports else b"",
        _section(_SECTION_FUNCTION, _vec([_uleb(0)] * len(bodies))),
        _section(_SECTION_MEMORY, _vec([b"\x00" + _uleb(1)])),
        _section(_SECTION_EXPORT, _vec(exports)),
        _section(_SECTION_CODE, _vec(code)),
        _section(_SECTION_CUSTOM, _name("padding") + bytes(padding)) if padding else b"",
    ]
    return b"".join(sections)


def hostile_module(kind: HostileKind) -> bytes:
    """A css.wasm a token decoder must refuse: ``too-big`` (over 64 KiB), ``imports`` (one imported function),
    ``endless-loop`` (``cdx`` never returns), ``descending`` (``rdx`` before ``cdx``), ``no-exports``."""
    constant = {"cdx": _const(30) + bytes([_END]), "rdx": _const(60) + bytes([_END])}
    if kind == "too-big":
        return _plain_module(constant, padding=70_000)
    if kind == "imports":
        return _plain_module(constant, imports=1)
    if kind == "endless-loop":
        return _plain_module({"cdx": bytes([_LOOP, _VOID, _BR, 0, _END]) + _const(0) + bytes([_END])})
    if kind == "descending":
        return _plain_module({"cdx": _const(60) + bytes([_END]), "rdx": _const(30) + bytes([_END])})
    return _plain_module({"other": _const(1) + bytes([_END])})
