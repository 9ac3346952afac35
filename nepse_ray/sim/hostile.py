"""Hostile mode: the simulator as a server that attacks its clients, one named kind at a time.

The site is an unofficial API that users reach through mirrors and proxies, so a client must treat every byte of
it as hostile. Each kind in :data:`HOSTILE` serves one attack on the data endpoints (the handshake stays honest,
so a client always gets a token first), either by rewriting the JSON of some endpoints or by delivering every
answer in a hostile way. Switch kinds on with ``SimConfig(hostile=("oversized-pages",))``, ``Simulator(hostile=[...])``,
``SimulatorProcess(hostile=[...])``, ``POST /_sim/config {"hostile": [...]}`` or ``nepse-ray sim --hostile KIND``
(repeatable); several kinds combine, rewrites in the table's order. Every hostile answer is counted under
``faults_injected["hostile:KIND"]`` in the stats, and a slow delivery the client hung up on before its end under
``"hostile:KIND:abandoned"``.

>>> body = b'[{"id": 131, "symbol": "NABIL"}, {"id": 132, "symbol": "NICA"}]'
>>> rewrite(active(["traversal-symbols"], "security_list"), "security_list", body)
b'[{"id":131,"symbol":"X/../../../outside"},{"id":132,"symbol":".."}]'
>>> active(["traversal-symbols"], "floorsheet")
[]
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import struct
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, get_args

from aiohttp import web

from .wire import encode

HostileName = Literal[
    "traversal-symbols",
    "hostile-index-ids",
    "hostile-dates",
    "far-future-asof",
    "oversized-pages",
    "huge-numbers",
    "infinite-numbers",
    "control-chars",
    "trickle-gzip",
    "slow-headers",
    "brotli",
]
HOSTILE_NAMES: tuple[HostileName, ...] = get_args(HostileName)

JSON = "application/json"
Json = Any
#: The paged endpoints (Spring pages, wrapped in ``floorsheets`` for the floorsheet ones).
PAGED = frozenset({"floorsheet", "security_floorsheet", "today_price", "security_price_history", "index_history"})
LISTS = frozenset({"security_list", "company_list"})
INDICES = frozenset({"nepse_index", "sub_indices"})

#: Symbols that are paths: relative ones climbing out of a directory, the directory itself and its parent, an
#: absolute path, a NUL byte and Windows separators. The security list's first rows get them, in this order.
TRAVERSAL_SYMBOLS = ("X/../../../outside", "..", ".", "/tmp/nepse-ray-hostile", "NUL\x00BYTE", "BACK\\..\\..\\SLASH")
#: Index ids no index has: negative, zero, past int64, past any sane number. Cycled over the index answers' rows.
HOSTILE_INDEX_IDS = (-58, 0, 2**63, 10**30)
#: Put in front of every row's business date: a date that is a path climbing out of a directory.
DATE_TRAVERSAL = "../../../outside/"
#: The market-open ``asOf`` of ``far-future-asof``: a date a client that plans one request per day must bound.
FAR_FUTURE_AS_OF = "9999-12-30T15:00:00"
#: Rows of every page of ``oversized-pages``, whatever ``size`` was asked for (at most 500 on the real site).
OVERSIZED_ROWS = 20_000
#: First fresh key of ``oversized-pages`` rows: contract and security ids no real row has (within int64).
FRESH_KEY_BASE = 9 * 10**15
FRESH_KEYS = ("contractId", "securityId")
#: ``totalElements`` and ``totalPages`` of ``huge-numbers``: far past what a float can hold.
HUGE_NUMBER = 10**400
#: Appended to names by ``control-chars``: clear the screen, retitle the terminal window, a hyperlink, a carriage
#: return that hides what came before and a right-to-left override, in 7-bit and 8-bit (C1 CSI) forms.
CONTROL_SEQUENCES = "\x1b[2J\x1b[H\x1b]0;owned\x07\x1b]8;;https://example.invalid\x07link\x1b]8;;\x07\r\u202e\x9b31m"
#: Appended to symbols: short, so a symbol still looks like itself (``NABIL`` suggests ``NABIL`` + these).
SYMBOL_CONTROLS = "\x1b[2J\u202e"
CONTROL_FIELDS = {
    "symbol": SYMBOL_CONTROLS,
    "stockSymbol": SYMBOL_CONTROLS,
    "securityName": CONTROL_SEQUENCES,
    "companyName": CONTROL_SEQUENCES,
    "buyerBrokerName": CONTROL_SEQUENCES,
    "sellerBrokerName": CONTROL_SEQUENCES,
}
#: Seconds between two trickled pieces (a gzip comment's bytes, header lines).
TRICKLE_SECONDS = 0.5
#: Bytes of the gzip comment ``trickle-gzip`` sends one at a time (so the header alone takes 15 s).
TRICKLE_BYTES = 30
#: Header lines ``slow-headers`` sends one at a time (15 s; below http.client's limit of 100 headers).
SLOW_HEADER_LINES = 30
#: Largest uncompressed meta-block of a Brotli stream with 4 length nibbles.
_BROTLI_BLOCK = 1 << 16

Rewrite = Callable[[str, Json], Json]
#: Sends the answer; returns it and whether it went out in full (False: the client hung up first).
Deliver = Callable[[web.Request, bytes], Awaitable[tuple[web.StreamResponse, bool]]]


@dataclasses.dataclass(frozen=True, slots=True)
class Hostile:
    """One attack: what it serves, on which endpoints (empty: every data endpoint), and how."""

    name: HostileName
    attack: str
    endpoints: frozenset[str] = frozenset()
    rewrite: Rewrite | None = None
    deliver: Deliver | None = None

    def hits(self, endpoint: str) -> bool:
        return not self.endpoints or endpoint in self.endpoints


# -- rewrites: decoded JSON in, hostile JSON out -------------------------------------------------------------


def _page(body: Json) -> dict[str, Json]:
    """The Spring page of a paged endpoint's answer (the floorsheet ones wrap it in ``floorsheets``)."""
    page: dict[str, Json] = body.get("floorsheets", body)
    return page


def _rows(endpoint: str, body: Json) -> list[dict[str, Json]]:
    rows: list[dict[str, Json]] = _page(body)["content"] if endpoint in PAGED else body
    return rows


def _traversal_symbols(endpoint: str, body: Json) -> Json:
    for row, symbol in zip(body, TRAVERSAL_SYMBOLS, strict=False):
        row["symbol"] = symbol
    return body


def _hostile_index_ids(endpoint: str, body: Json) -> Json:
    for n, row in enumerate(body):
        row["id"] = HOSTILE_INDEX_IDS[n % len(HOSTILE_INDEX_IDS)]
    return body


def _hostile_dates(endpoint: str, body: Json) -> Json:
    for row in _rows(endpoint, body):
        row["businessDate"] = DATE_TRAVERSAL + str(row.get("businessDate"))
    return body


def _far_future_as_of(endpoint: str, body: Json) -> Json:
    body["asOf"] = FAR_FUTURE_AS_OF
    return body


def _oversized_pages(endpoint: str, body: Json) -> Json:
    page = _page(body)
    rows = page["content"]
    if rows:
        first = FRESH_KEY_BASE + int(page.get("number", 0)) * OVERSIZED_ROWS
        grown = [dict(rows[n % len(rows)]) for n in range(OVERSIZED_ROWS)]
        for n, row in enumerate(grown):
            for key in FRESH_KEYS:
                if key in row:
                    row[key] = first + n
        page["content"] = grown
        page["numberOfElements"] = len(grown)
    return body


def _totals(value: int | float) -> Rewrite:
    def rewrite(endpoint: str, body: Json) -> Json:
        page = _page(body)
        page["totalElements"] = page["totalPages"] = value
        return body

    return rewrite


def _control_chars(endpoint: str, body: Json) -> Json:
    rows = [body] if isinstance(body, dict) and endpoint not in PAGED else _rows(endpoint, body)
    for row in rows:
        for field, controls in CONTROL_FIELDS.items():
            if isinstance(row.get(field), str):
                row[field] += controls
    return body


# -- deliveries: the answer's bytes, sent in a hostile way ---------------------------------------------------


def gzip_with_comment(data: bytes, comment: bytes) -> bytes:
    """``data`` as one gzip member whose header carries ``comment`` (FCOMMENT, RFC 1952): a header of any length."""
    header = b"\x1f\x8b\x08\x10" + struct.pack("<I", 0) + b"\x00\xff" + comment.replace(b"\x00", b"") + b"\x00"
    deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + deflate.compress(data) + deflate.flush() + trailer


def brotli_stored(data: bytes) -> bytes:
    """``data`` as a valid Brotli stream (RFC 7932) of uncompressed meta-blocks: any Brotli decoder reads it."""
    out = bytearray()
    bits = count = 0

    def put(value: int, width: int) -> None:
        nonlocal bits, count
        bits |= value << count
        count += width

    def align() -> None:
        nonlocal bits, count
        out.extend(bits.to_bytes((count + 7) // 8, "little"))
        bits = count = 0

    put(0, 1)  # WBITS = 16
    for start in range(0, len(data), _BROTLI_BLOCK):
        block = data[start : start + _BROTLI_BLOCK]
        put(0, 1)  # ISLAST = 0
        put(0, 2)  # MNIBBLES = 4
        put(len(block) - 1, 16)  # MLEN - 1
        put(1, 1)  # ISUNCOMPRESSED
        align()
        out.extend(block)
    put(1, 1)  # ISLAST
    put(1, 1)  # ISLASTEMPTY
    align()
    return bytes(out)


async def _trickle_gzip(request: web.Request, body: bytes) -> tuple[web.StreamResponse, bool]:
    """A gzip body whose header never seems to end: its comment arrives one byte every ``TRICKLE_SECONDS``."""
    compressed = gzip_with_comment(body, b"c" * TRICKLE_BYTES)
    response = web.StreamResponse(headers={"Content-Type": JSON, "Content-Encoding": "gzip"})
    response.content_length = len(compressed)
    await response.prepare(request)
    fixed = 10  # the gzip header's fixed part; the comment follows it
    try:
        await response.write(compressed[:fixed])
        for offset in range(fixed, fixed + TRICKLE_BYTES):
            await asyncio.sleep(TRICKLE_SECONDS)
            await response.write(compressed[offset : offset + 1])
        await response.write(compressed[fixed + TRICKLE_BYTES :])
        await response.write_eof()
    except ConnectionError:  # the client gave up: what it should do
        return response, False
    return response, True


async def _slow_headers(request: web.Request, body: bytes) -> tuple[web.StreamResponse, bool]:
    """Status line and header lines one every ``TRICKLE_SECONDS``, then the body; written on the socket itself."""
    transport = request.transport
    end = b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    pieces = [b"HTTP/1.1 200 OK\r\n", *(b"X-Slow-%d: %d\r\n" % (n, n) for n in range(SLOW_HEADER_LINES))]
    complete = True
    for piece in [*pieces, end + body]:
        if piece is not pieces[0]:
            await asyncio.sleep(TRICKLE_SECONDS)
        if transport is None or transport.is_closing():
            complete = False
            break
        transport.write(piece)
    if transport is not None:
        transport.close()
    return web.Response(status=200), complete  # aiohttp discards a response to a closed connection


async def _brotli(request: web.Request, body: bytes) -> tuple[web.StreamResponse, bool]:
    """The body Brotli-encoded although the client asked for gzip or deflate only."""
    return web.Response(body=brotli_stored(body), headers={"Content-Type": JSON, "Content-Encoding": "br"}), True


HOSTILE: Mapping[HostileName, Hostile] = {
    h.name: h
    for h in (
        Hostile("traversal-symbols", "security and company lists whose first symbols are paths", LISTS,
                rewrite=_traversal_symbols),
        Hostile("hostile-index-ids", "index answers with negative, zero and oversized ids", INDICES,
                rewrite=_hostile_index_ids),
        Hostile("hostile-dates", "page rows whose businessDate is a path", PAGED, rewrite=_hostile_dates),
        Hostile("far-future-asof", f"market-open asOf {FAR_FUTURE_AS_OF}", frozenset({"market_open"}),
                rewrite=_far_future_as_of),
        Hostile("oversized-pages", f"{OVERSIZED_ROWS:,} rows per page with fresh keys, whatever the size", PAGED,
                rewrite=_oversized_pages),
        Hostile("huge-numbers", "totalElements and totalPages 10**400", PAGED, rewrite=_totals(HUGE_NUMBER)),
        Hostile("infinite-numbers", "totalElements and totalPages Infinity", PAGED,
                rewrite=_totals(float("inf"))),
        Hostile("control-chars", "terminal control sequences in symbols and names",
                LISTS | PAGED | frozenset({"market_depth"}), rewrite=_control_chars),
        Hostile("trickle-gzip", f"gzip bodies whose header comment trickles ({TRICKLE_BYTES} bytes, one every "
                f"{TRICKLE_SECONDS:g} s)", deliver=_trickle_gzip),
        Hostile("slow-headers", f"{SLOW_HEADER_LINES} header lines, one every {TRICKLE_SECONDS:g} s",
                deliver=_slow_headers),
        Hostile("brotli", "Content-Encoding: br, never asked for", deliver=_brotli),
    )
}  # fmt: skip


def active(names: Iterable[HostileName], endpoint: str) -> list[Hostile]:
    """The kinds of ``names`` that hit ``endpoint``, in the table's order."""
    chosen = set(names)
    return [kind for name, kind in HOSTILE.items() if name in chosen and kind.hits(endpoint)]


def rewrite(kinds: Sequence[Hostile], endpoint: str, body: bytes) -> bytes:
    """``body`` of ``endpoint`` after every rewriting kind of ``kinds`` (unchanged if none rewrites)."""
    rewrites = [kind.rewrite for kind in kinds if kind.rewrite is not None]
    if not rewrites:
        return body
    value = json.loads(body)
    for change in rewrites:
        value = change(endpoint, value)
    return encode(value)


async def respond(
    kinds: Sequence[Hostile], endpoint: str, request: web.Request, body: bytes, abandoned: Callable[[str], None]
) -> web.StreamResponse:
    """The answer to a data request: ``body`` rewritten by ``kinds`` (see :func:`active`) and delivered by the
    first delivering one, else as a plain JSON response. ``abandoned(name)`` is called when the client hung up
    before a hostile delivery ended (what a client that holds its deadline does)."""
    body = rewrite(kinds, endpoint, body)
    for kind in kinds:
        if kind.deliver is not None:
            response, complete = await kind.deliver(request, body)
            if not complete:
                abandoned(kind.name)
            return response
    return web.Response(body=body, content_type=JSON)
