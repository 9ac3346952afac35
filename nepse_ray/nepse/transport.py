"""The one place nepse-ray touches the network: a small :class:`Transport` interface and its requests adapter.

Everything above this module (tokens, signing, retries, error mapping) works on :class:`RawResponse` values,
so tests swap in a fake transport and never open a socket. A transport turns network failures into
:class:`NepseConnectionError` / :class:`NepseTimeoutError` whose messages name only the method and the path:
never the headers (they carry the token) nor the body (it carries the payload id).

:class:`RequestsTransport` trusts the server as little as it can: it ignores the environment (no proxies, CA
bundles or ``.netrc`` credentials from environment variables), asks only for gzip or deflate and decodes each
body itself under a size cap counted after decompression (:mod:`~nepse_ray.nepse.decoding`), and holds every
attempt to a total deadline from the name lookup to the last byte (:mod:`~nepse_ray.nepse.deadline`), so neither a
gzip bomb, an endless body, an unasked-for encoding nor a slow trickle of headers or body can hold a worker or its
memory. Given a ``source_address``, its connections leave from that local address
(a node's own address on a cluster, see :mod:`nepse_ray.pool.worker`). It verifies TLS with its process's shared
:class:`~nepse_ray.nepse.aia.SiteTrust`: by default certifi's roots plus the intermediates nepse-ray ships, and when
a server leaves out the intermediate that signed its certificate, it completes the chain through AIA and tries once
more.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3

from .deadline import Attempt, DeadlineAdapter
from .decoding import ACCEPT_ENCODING, BodyDecoder
from .errors import (
    NepseConnectionError,
    NepseDeadlineError,
    NepseError,
    NepseHeaderValueError,
    NepseInputError,
    NepseInvalidResponseError,
    NepseTimeoutError,
)

if TYPE_CHECKING:
    from .aia import SiteTrust

Query = Sequence[tuple[str, str]]

#: Largest body accepted, counted after decompression. A 500-row floorsheet page is about 0.2 MiB.
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: Seconds one attempt may take in all; below the pool's default ``task_timeout`` of 60 s, so the attempt fails
#: with its own error before the pool abandons it.
DEFAULT_TOTAL_TIMEOUT = 45.0
#: Most bytes taken from the body per read; each read waits at most for what is left of the deadline.
_READ_SIZE = 256 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class RawResponse:
    """What came back: the status, the headers and the body (its Content-Encoding undone).

    ``page_size`` is the ``size`` the request asked for when it asked for a page: a reader refuses a page holding
    more rows (:func:`~nepse_ray.nepse.paging.check_page`). The client sets it; transports leave it ``None``.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes
    page_size: int | None = None

    def header(self, name: str) -> str | None:
        """The value of header ``name``, matched case-insensitively (fakes may use plain dicts)."""
        wanted = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == wanted), None)


class Transport(Protocol):
    """Sends one HTTP request and returns the raw answer; raises only :class:`NepseError` subclasses."""

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Query,
        json_body: object | None,
        timeout: tuple[float, float],
    ) -> RawResponse:
        """``timeout`` is ``(connect, read)`` in seconds; redirects are not followed."""
        ...

    def close(self) -> None: ...


class RequestsTransport:
    """A :class:`Transport` over one ``requests.Session`` (thread-safe for the way the client uses it).

    ``verify`` is ``True`` (certifi's roots and the intermediates nepse-ray ships), the path of a CA bundle to trust
    instead, or ``False``; while verifying, a chain the server left incomplete is completed through AIA
    (:mod:`nepse_ray.nepse.aia`) and the request tried once more.

    The session does not read the environment (``trust_env=False``), so ``REQUESTS_CA_BUNDLE``,
    ``CURL_CA_BUNDLE``, proxy variables and ``.netrc`` change neither verification, the route nor the
    Authorization header. A body larger than ``max_body_bytes`` after decompression raises
    :class:`NepseResponseTooLargeError`; an attempt longer than ``total_timeout`` raises :class:`NepseDeadlineError`.
    ``source_address`` (an IP address of this host) is the local address every connection binds to; ``None`` lets
    the OS choose.

    The deadline caps the name lookup, connecting, waiting for the answer (however slowly its header lines come)
    and reading the body, each socket wait shortened to what is left of it. A body in an encoding other than gzip,
    deflate or identity raises :class:`NepseContentEncodingError` undecoded.
    """

    def __init__(
        self,
        verify: bool | str = True,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        source_address: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = requests.Session()
        self._session.trust_env = False
        self._session.headers["Accept-Encoding"] = ACCEPT_ENCODING
        self._source_address = source_address
        adapter = ConnectionAdapter(source_address)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._verify = verify
        self._session.verify = verify is not False
        self._trust: SiteTrust | None = None
        self._trust_lock = threading.Lock()
        if isinstance(verify, str):
            self._site_trust()  # a CA bundle is read now, so one OpenSSL cannot load fails here rather than mid-pull
        self._max_body_bytes = max_body_bytes
        self._total_timeout = total_timeout
        self._clock = clock

    def _site_trust(self) -> SiteTrust:
        """The process's trust for ``verify``, mounted for ``https://`` on first use."""
        with self._trust_lock:
            if self._trust is None:
                # Imported here: cryptography and certifi's roots then load only in processes that speak TLS, not in
                # a worker pulling from the plain-HTTP simulator (about half a second of its start on a busy host).
                from .aia import shared_trust

                trust = shared_trust(None if self._verify is True else str(self._verify))
                self._session.mount("https://", ConnectionAdapter(self._source_address, trust.context))
                self._trust = trust
            return self._trust

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        params: Query,
        json_body: object | None,
        timeout: tuple[float, float],
    ) -> RawResponse:
        parts = urlsplit(url)
        where = f"{method} {parts.path}"
        require_sendable_headers(where, headers)
        if parts.scheme == "https" and self._verify is not False and self._trust is None:
            self._site_trust()
        attempt = Attempt(self._clock() + self._total_timeout, self._clock)
        connect_timeout, read_timeout = (min(seconds, self._total_timeout) for seconds in timeout)
        request = {
            "method": method,
            "url": url,
            "headers": dict(headers),
            "params": list(params),
            "json": json_body,
            "timeout": (connect_timeout, read_timeout),
        }
        try:
            return self._attempt(where, request, attempt, repairable=True)
        except _IssuerUnknown:
            pass  # repaired outside the except block: no exception context rides along
        self._complete_chain(url, connect_timeout, attempt)
        return self._attempt(where, request, attempt, repairable=False)

    def _attempt(self, where: str, request: dict[str, Any], attempt: Attempt, *, repairable: bool) -> RawResponse:
        """One exchange of ``request`` (``Session.request`` arguments) within ``attempt``'s deadline; raises
        :class:`_IssuerUnknown` if ``repairable`` and only the issuer of the server's certificate was missing."""
        read_timeout = request["timeout"][1]
        failure: Exception
        phase = "waiting for the answer"
        try:
            with attempt.running():
                response = self._session.request(
                    **request, allow_redirects=False, stream=True, verify=self._verify is not False
                )
                phase = "reading the answer"
                with response:  # closes the connection unless the whole body was read
                    body = self._read_body(where, response, attempt, read_timeout)
            return RawResponse(response.status_code, response.headers, body)
        except requests.exceptions.SSLError as exc:
            failure = self._tls_failure(where, request["url"], exc, repairable)
        except requests.RequestException as exc:
            failure = _network_failure(where, exc)
        except urllib3.exceptions.HTTPError as exc:  # raised while streaming the body
            failure = _body_failure(where, exc)
        if attempt.expired or (isinstance(failure, NepseTimeoutError) and attempt.left() <= 0):
            failure = self._deadline_error(where, phase)
        # Raised outside the except block so the error keeps no reference (via __context__) to the requests
        # exception, whose .request still holds the Authorization header.
        raise failure

    def _read_body(self, where: str, response: requests.Response, attempt: Attempt, read_timeout: float) -> bytes:
        """The decoded body, read in pieces of at most ``_READ_SIZE`` so the cap and the deadline hold throughout.

        ``read1`` returns as soon as some bytes arrived (``read`` would wait for a full piece); each piece is
        decoded by a :class:`BodyDecoder` before the next is read, so a gzip bomb is never inflated past the cap
        and the deadline is checked between pieces however slowly they come.
        """
        decoder = BodyDecoder(response.headers.get("Content-Encoding"), max_bytes=self._max_body_bytes, where=where)
        raw: urllib3.HTTPResponse = response.raw
        chunks: list[bytes] = []
        while True:
            left = attempt.left()
            if left <= 0 or attempt.expired:
                raise self._deadline_error(where, "reading the answer")
            connection = raw.connection
            if connection is not None and connection.sock is not None:
                connection.sock.settimeout(min(read_timeout, left))
            chunk = raw.read1(_READ_SIZE, decode_content=False)
            if not chunk:
                break
            chunks.append(decoder.feed(chunk))
        if attempt.expired:  # the watchdog shut the socket: what looks like the end is not the body's end
            raise self._deadline_error(where, "reading the answer")
        chunks.append(decoder.finish())
        return b"".join(chunks)

    def _tls_failure(self, where: str, url: str, exc: requests.exceptions.SSLError, repairable: bool) -> Exception:
        """The error for a failed TLS handshake, or :class:`_IssuerUnknown` when AIA may repair it."""
        if self._trust is not None:
            if repairable and self._trust.missing_issuer(exc):
                return _IssuerUnknown()
            refusal = self._trust.refusal(url, exc)
            if refusal is not None:
                return refusal
        return NepseConnectionError(f"{where}: the TLS handshake failed ({type(exc).__name__})", retryable=False)

    def _complete_chain(self, url: str, connect_timeout: float, attempt: Attempt) -> None:
        """Fetch the issuer the server did not send, within what is left of ``attempt``'s deadline."""
        assert self._trust is not None  # only a verifying transport meets an unknown issuer
        self._trust.complete_chain(
            url,
            connect_timeout=connect_timeout,
            time_left=attempt.left,
            source_address=self._source_address,
            fetch=fetch_bounded,
        )

    def _deadline_error(self, where: str, phase: str) -> NepseDeadlineError:
        return NepseDeadlineError(
            f"{where}: timed out while {phase}: it took longer than total_timeout={self._total_timeout:g} s in all; "
            "the server is slow or trickling it out"
        )

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return (
            f"RequestsTransport(verify={self._verify!r}, max_body_bytes={self._max_body_bytes}, "
            f"total_timeout={self._total_timeout:g}, source_address={self._source_address!r})"
        )


class ConnectionAdapter(DeadlineAdapter):
    """An ``HTTPAdapter`` whose connections hold the running attempt's deadline (:class:`DeadlineAdapter`), may bind
    to one local address (any port), the address a site's per-address limit counts them against, and verify TLS
    with one ``SSLContext``, which alone decides what is trusted. Raises :class:`NepseInputError` if
    ``source_address`` is not an IP address."""

    def __init__(self, source_address: str | None = None, ssl_context: ssl.SSLContext | None = None) -> None:
        if source_address is not None:
            try:
                ipaddress.ip_address(source_address)
            except ValueError:
                raise NepseInputError(
                    f"source_address must be an IP address of this host, got {source_address!r}; check the node's "
                    "nepse-ray.source-address label"
                ) from None
        self._options = {
            **({} if source_address is None else {"source_address": (source_address, 0)}),
            **({} if ssl_context is None else {"ssl_context": ssl_context}),
        }
        super().__init__()

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **self._options, **pool_kwargs)

    def cert_verify(self, conn: Any, url: str, verify: bool | str, cert: Any) -> None:
        """As requests does, except that with a context of its own no CA file is loaded into it per connection."""
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]
        if "ssl_context" in self._options:
            conn.ca_certs = conn.ca_cert_dir = None


class _IssuerUnknown(Exception):
    """A handshake failed only because the issuer of the server's certificate is not trusted: AIA may repair it."""


def fetch_bounded(url: str, seconds: float, max_bytes: int) -> bytes:
    """The body of ``url``'s answer to a plain GET (an AIA fetch): at most ``max_bytes`` within ``seconds``, no
    redirects, nothing from the environment. Raises :class:`NepseError`, also for an answer other than 200."""
    transport = RequestsTransport(False, max_body_bytes=max_bytes, total_timeout=seconds)
    try:
        raw = transport.send("GET", url, headers={}, params=(), json_body=None, timeout=(seconds, seconds))
    finally:
        transport.close()
    if raw.status != 200:
        raise NepseInvalidResponseError(f"GET {urlsplit(url).path}: HTTP {raw.status}", status=raw.status)
    return raw.body


def require_sendable_headers(where: str, headers: Mapping[str, str]) -> None:
    """Raise :class:`NepseHeaderValueError` for a header value HTTP cannot carry, naming the header only.

    Left to requests or http.client, such a value raises an error whose text or args hold the whole header,
    which for Authorization is the token.
    """
    for name, value in headers.items():
        if all(ord(c) < 256 for c in value) and not (value[:1].isspace() or any(c in value for c in "\r\n\0")):
            continue
        token = name.lower() == "authorization"
        advice = (
            "the access token from the handshake is malformed; a new prove gets another"
            if token
            else "pass a plain latin-1 value"
        )
        raise NepseHeaderValueError(
            f"{where}: the {name} header holds characters HTTP cannot carry (outside latin-1, or line breaks); "
            + advice,
            retryable=token,
        )


def _network_failure(where: str, exc: requests.RequestException) -> NepseError:
    if isinstance(exc, requests.Timeout):  # ConnectTimeout is also a ConnectionError: test this first
        phase = "connecting" if isinstance(exc, requests.ConnectTimeout) else "waiting for the answer"
        return NepseTimeoutError(f"{where}: timed out while {phase}; the server is slow or unreachable")
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return NepseConnectionError(f"{where}: the connection failed or was dropped ({type(exc).__name__})")
    return NepseConnectionError(f"{where}: the request failed ({type(exc).__name__})")


def _body_failure(where: str, exc: urllib3.exceptions.HTTPError) -> NepseError:
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError):
        return NepseTimeoutError(f"{where}: timed out while reading the answer; the server stalled")
    return NepseConnectionError(f"{where}: the connection dropped while reading the answer ({type(exc).__name__})")
