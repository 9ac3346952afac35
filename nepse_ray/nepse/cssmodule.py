"""Reading the site's ``css.wasm`` in pure Python: its sections, exports, memory and data segments, without running it.

The token decoder (:mod:`~nepse_ray.nepse.decoder`) needs three facts about a served module before it trusts any:
whether it imports anything (the site's module imports nothing, and a module that does could reach outside its
sandbox), which position exports it has, and the 40-entry lookup table in its data segment at address 1024. This
module reads them from the binary format (the WebAssembly core specification, chapter 5) and nothing more; it
never executes code. Every malformed input raises :class:`ModuleFormatError`.

>>> from nepse_ray.sim.wasm import css_wasm
>>> facts = read_module(css_wasm())
>>> facts.imports, facts.function_exports[:2], table_at(facts)[:4]
(0, ('cdx', 'rdx'), (5, 8, 4, 7))
"""

from __future__ import annotations

import dataclasses
import struct

#: Where the site's module keeps its lookup table, and how many little-endian i32 entries it has.
TABLE_ADDRESS = 1024
TABLE_ENTRIES = 40

_MAGIC = b"\x00asm\x01\x00\x00\x00"
_IMPORT, _MEMORY, _EXPORT, _START, _DATA = 2, 5, 7, 8, 11
_I32_CONST, _END = 0x41, 0x0B


class ModuleFormatError(ValueError):
    """The bytes are not a WebAssembly module this reader can take apart."""


@dataclasses.dataclass(frozen=True, slots=True)
class DataSegment:
    """An active data segment of memory 0: its constant start address, and where its bytes lie in the module."""

    address: int
    start: int
    length: int


@dataclasses.dataclass(frozen=True, slots=True)
class ModuleFacts:
    """What :func:`read_module` learned about a module."""

    imports: int
    function_exports: tuple[str, ...]
    memory_pages: tuple[int, ...]  # the minimum pages of each memory
    has_start: bool
    segments: tuple[DataSegment, ...]
    data: bytes


class _Reader:
    __slots__ = ("data", "end", "offset")

    def __init__(self, data: bytes, offset: int = 0, end: int | None = None) -> None:
        self.data, self.offset, self.end = data, offset, len(data) if end is None else end

    def byte(self) -> int:
        if self.offset >= self.end:
            raise ModuleFormatError("the module ends in the middle of a section")
        value = self.data[self.offset]
        self.offset += 1
        return value

    def uleb(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise ModuleFormatError("an integer in the module is longer than 5 bytes")

    def sleb32(self) -> int:
        value = shift = 0
        while True:
            byte = self.byte()
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if byte & 0x40:
                    value -= 1 << shift
                return value
            if shift > 35:
                raise ModuleFormatError("an integer in the module is longer than 5 bytes")

    def skip(self, count: int) -> int:
        start = self.offset
        if count < 0 or start + count > self.end:
            raise ModuleFormatError("a length in the module points past its end")
        self.offset += count
        return start

    def name(self) -> str:
        length = self.uleb()
        start = self.skip(length)
        try:
            return self.data[start : start + length].decode("utf-8")
        except UnicodeDecodeError:
            raise ModuleFormatError("a name in the module is not UTF-8") from None


def read_module(data: bytes) -> ModuleFacts:
    """The facts of ``data``; raises :class:`ModuleFormatError` for anything that is not a well-formed module."""
    if not data.startswith(_MAGIC):
        raise ModuleFormatError("not a WebAssembly module (no \\0asm version 1 header)")
    reader = _Reader(data, len(_MAGIC))
    imports, exports, pages, has_start, segments = 0, [], [], False, []
    while reader.offset < reader.end:
        section, size = reader.byte(), reader.uleb()
        body = _Reader(data, reader.skip(size), reader.offset)
        if section == _IMPORT:
            imports = body.uleb()
        elif section == _MEMORY:
            for _ in range(body.uleb()):
                flags = body.uleb()
                pages.append(body.uleb())
                if flags & 1:
                    body.uleb()
        elif section == _EXPORT:
            for _ in range(body.uleb()):
                name, kind = body.name(), body.byte()
                body.uleb()
                if kind == 0:
                    exports.append(name)
        elif section == _START:
            has_start = True
        elif section == _DATA:
            segments.extend(_data_segments(body))
    return ModuleFacts(imports, tuple(exports), tuple(pages), has_start, tuple(segments), data)


def _data_segments(body: _Reader) -> list[DataSegment]:
    out = []
    for _ in range(body.uleb()):
        flags = body.uleb()
        if flags == 1:  # passive: no address
            length = body.uleb()
            body.skip(length)
            continue
        if flags == 2 and body.uleb() != 0:
            raise ModuleFormatError("a data segment names a memory other than memory 0")
        if flags not in (0, 2) or body.byte() != _I32_CONST:
            raise ModuleFormatError("a data segment's address is not an i32 constant")
        address = body.sleb32()
        if body.byte() != _END:
            raise ModuleFormatError("a data segment's address is not an i32 constant")
        length = body.uleb()
        out.append(DataSegment(address, body.skip(length), length))
    return out


def table_at(facts: ModuleFacts, address: int = TABLE_ADDRESS, entries: int = TABLE_ENTRIES) -> tuple[int, ...] | None:
    """The ``entries`` little-endian i32 values at ``address`` if one data segment holds them all, else ``None``."""
    span = _table_span(facts, address, entries)
    if span is None:
        return None
    return struct.unpack(f"<{entries}i", facts.data[span : span + 4 * entries])


def with_table(facts: ModuleFacts, table: tuple[int, ...], address: int = TABLE_ADDRESS) -> bytes | None:
    """The module's bytes with ``table`` written over the table at ``address`` (``None`` if it has none there).

    Two modules whose bytes agree once their tables are made equal differ in nothing but the table: the same code.
    """
    span = _table_span(facts, address, len(table))
    if span is None:
        return None
    return facts.data[:span] + struct.pack(f"<{len(table)}i", *table) + facts.data[span + 4 * len(table) :]


def _table_span(facts: ModuleFacts, address: int, entries: int) -> int | None:
    for segment in facts.segments:
        if segment.address <= address and address + 4 * entries <= segment.address + segment.length:
            return segment.start + address - segment.address
    return None
