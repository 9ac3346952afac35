"""A response body's Content-Encoding undone piece by piece, never past a cap on the decoded size.

The client asks only for :data:`ACCEPT_ENCODING` and decodes the body itself, so no decoder it did not choose ever
runs: an answer in any other encoding (Brotli, zstd, a chain of several) is refused before a byte of it is
decoded, and a gzip or deflate bomb is stopped as soon as its output passes the cap, whichever decompression
library is installed. Each :meth:`BodyDecoder.feed` returns at once with what the piece it was given decodes to,
so the caller checks its deadline between pieces however slowly they arrive.

>>> import gzip
>>> decoder = BodyDecoder("gzip", max_bytes=100, where="GET /api/nots")
>>> compressed = gzip.compress(b'{"ok": true}')
>>> b"".join(decoder.feed(compressed[n : n + 1]) for n in range(len(compressed))) + decoder.finish()
b'{"ok": true}'
>>> BodyDecoder("br", max_bytes=100, where="GET /api/nots")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nepse_ray.nepse.errors.NepseContentEncodingError: GET /api/nots: the answer is encoded as 'br', which nepse-ray ...
"""

from __future__ import annotations

import zlib

from .errors import NepseContentEncodingError, NepseInvalidResponseError, NepseResponseTooLargeError

#: The encodings the client asks for, and the only ones it decodes (besides none at all).
ACCEPT_ENCODING = "gzip, deflate"
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class BodyDecoder:
    """Decodes one body in the encoding its ``Content-Encoding`` header names, at most ``max_bytes`` of output.

    Raises :class:`NepseContentEncodingError` for an encoding other than gzip, deflate or identity,
    :class:`NepseResponseTooLargeError` once the output passes ``max_bytes``, and
    :class:`NepseInvalidResponseError` for a compressed stream that is corrupt or cut short.
    """

    __slots__ = ("_encoding", "_inflater", "_max_bytes", "_pending", "_size", "_wbits", "_where")

    def __init__(self, content_encoding: str | None, *, max_bytes: int, where: str) -> None:
        encoding = (content_encoding or "identity").strip().lower()
        if encoding == "x-gzip":
            encoding = "gzip"
        if encoding not in ("identity", "gzip", "deflate"):
            raise NepseContentEncodingError(
                f"{where}: the answer is encoded as {encoding[:40]!r}, which nepse-ray did not ask for (it accepts "
                f"{ACCEPT_ENCODING}); refusing to decode it"
            )
        self._encoding = encoding
        self._max_bytes = max_bytes
        self._where = where
        self._size = 0
        self._pending = b""  # deflate: the first byte, until the second tells zlib from raw deflate
        self._wbits: int | None = _GZIP_WBITS if encoding == "gzip" else None
        self._inflater: zlib._Decompress | None = None

    def feed(self, data: bytes) -> bytes:
        """What ``data``, the next piece of the body as it came off the wire, decodes to."""
        if self._encoding == "identity":
            return self._counted(data)
        if self._wbits is None:  # deflate: zlib-wrapped (as the RFC says) or raw (as some servers send it)
            data = self._pending + data
            if len(data) < 2:
                self._pending = data
                return b""
            zlib_header = data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._wbits = zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS
        return self._inflate(data)

    def finish(self) -> bytes:
        """The end of the body (an empty one is fine): raises if a compressed stream stopped before its end."""
        started = self._inflater is not None or self._pending
        if self._encoding != "identity" and started and not (self._inflater is not None and self._inflater.eof):
            raise self._corrupt("cut short")
        return b""

    def _inflate(self, data: bytes) -> bytes:
        out: list[bytes] = []
        while data:
            if self._inflater is not None and self._inflater.eof and self._encoding != "gzip":
                raise self._corrupt("followed by stray bytes")
            if self._inflater is None or self._inflater.eof:  # a gzip body may hold several members
                self._inflater = zlib.decompressobj(self._wbits or _GZIP_WBITS)
            inflater = self._inflater
            try:
                piece = inflater.decompress(data, self._max_bytes - self._size + 1)
            except zlib.error:
                piece = None  # raised below, outside the except block: the error keeps no context
            if piece is None:
                raise self._corrupt("corrupt")
            out.append(self._counted(piece))
            data = inflater.unconsumed_tail or inflater.unused_data
        return b"".join(out)

    def _counted(self, piece: bytes) -> bytes:
        self._size += len(piece)
        if self._size > self._max_bytes:
            raise NepseResponseTooLargeError(
                f"{self._where}: the answer is larger than max_body_bytes={self._max_bytes:,} bytes (decompressed); "
                "refusing to read it. Raise max_body_bytes only if such answers are expected"
            )
        return piece

    def _corrupt(self, how: str) -> NepseInvalidResponseError:
        return NepseInvalidResponseError(f"{self._where}: the answer's compressed body is {how}", status=None)
