"""BodyDecoder, the client's own Content-Encoding decoder: what it accepts, refuses and caps (no network)."""

from __future__ import annotations

import gzip
import zlib

import pytest

from nepse_ray.nepse.decoding import BodyDecoder
from nepse_ray.nepse.errors import NepseContentEncodingError, NepseInvalidResponseError, NepseResponseTooLargeError

BODY = b'{"rows": [' + b",".join(b"%d" % n for n in range(2000)) + b"]}"


def decoded(encoding: str | None, data: bytes, *, piece: int = 7, max_bytes: int = 1 << 20) -> bytes:
    decoder = BodyDecoder(encoding, max_bytes=max_bytes, where="GET /api/nots/x")
    parts = [decoder.feed(data[n : n + piece]) for n in range(0, len(data), piece)]
    return b"".join(parts) + decoder.finish()


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        (None, BODY),
        ("identity", BODY),
        ("gzip", gzip.compress(BODY)),
        ("X-GZIP", gzip.compress(BODY)),
        ("deflate", zlib.compress(BODY)),
        ("deflate", raw_deflate(BODY)),  # what some servers send as deflate
        ("gzip", gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])),  # two members
        ("gzip", b""),  # an empty body is empty, whatever the header says
    ],
)
def test_accepted_encodings_decode_piece_by_piece(encoding: str | None, data: bytes) -> None:
    assert decoded(encoding, data) == (BODY if data else b"")
    assert decoded(encoding, data, piece=1) == (BODY if data else b"")


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br", "gzip, gzip", "identity, gzip"])
def test_other_encodings_are_refused_before_decoding(encoding: str) -> None:
    with pytest.raises(NepseContentEncodingError, match="which nepse-ray did not ask for") as info:
        BodyDecoder(encoding, max_bytes=100, where="GET /api/nots/x")
    assert not info.value.retryable


def test_a_bomb_stops_one_byte_past_the_cap() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 KiB on the wire
    decoder = BodyDecoder("gzip", max_bytes=1_000_000, where="GET /api/nots/x")
    with pytest.raises(NepseResponseTooLargeError, match="max_body_bytes=1,000,000"):
        decoder.feed(bomb)
    assert decoded("gzip", gzip.compress(b"x" * 1_000), max_bytes=1_000) == b"x" * 1_000


@pytest.mark.parametrize(
    ("encoding", "data", "how"),
    [
        ("gzip", gzip.compress(BODY)[:-20], "cut short"),
        ("gzip", b"\x1f\x8b\x08\x00garbage-after-the-magic", "corrupt"),
        ("deflate", zlib.compress(BODY) + b"trailing", "followed by stray bytes"),
        ("deflate", b"x", "cut short"),
    ],
)
def test_broken_streams_are_named(encoding: str, data: bytes, how: str) -> None:
    with pytest.raises(NepseInvalidResponseError, match=f"compressed body is {how}") as info:
        decoded(encoding, data)
    assert info.value.__context__ is None
