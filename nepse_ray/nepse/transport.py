"""The one place nepse-ray touches the network: a small :class:`Transport` interface and its requests adapter.

Everything above this module (tokens, signing, retries, error mapping) works on :class:`RawResponse` values,
so tests swap in a fake transport and never open a socket. A transport turns network failures into
:class:`NepseConnectionError` / :class:`NepseTimeoutError` whose messages name only the method and the path:
never the headers (they carry the token) nor the body (it carries the payload id).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import requests

from .errors import NepseConnectionError, NepseError, NepseTimeoutError

Query = Sequence[tuple[str, str]]


@dataclasses.dataclass(frozen=True, slots=True)
class RawResponse:
    """What came back: the status, the headers and the undecoded body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

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

    ``verify`` is passed to requests: ``True`` (system/certifi trust), a CA bundle path, or ``False``.
    """

    def __init__(self, verify: bool | str = True) -> None:
        self._session = requests.Session()
        self._session.verify = verify

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
        failure: NepseError
        try:
            response = self._session.request(
                method,
                url,
                headers=dict(headers),
                params=list(params),
                json=json_body,
                timeout=timeout,
                allow_redirects=False,
            )
            return RawResponse(response.status_code, response.headers, response.content)
        except requests.RequestException as exc:
            failure = _network_failure(method, urlsplit(url).path, exc)
        # Raised outside the except block so the error keeps no reference (via __context__) to the
        # requests exception, whose .request still holds the Authorization header.
        raise failure

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"RequestsTransport(verify={self._session.verify!r})"


def _network_failure(method: str, path: str, exc: requests.RequestException) -> NepseError:
    where = f"{method} {path}"
    if isinstance(exc, requests.Timeout):  # ConnectTimeout is also a ConnectionError: test this first
        phase = "connecting" if isinstance(exc, requests.ConnectTimeout) else "waiting for the answer"
        return NepseTimeoutError(f"{where}: timed out while {phase}; the server is slow or unreachable")
    if isinstance(exc, requests.exceptions.SSLError):
        return NepseConnectionError(
            f"{where}: TLS verification failed. nepalstock.com serves an incomplete certificate chain; pass "
            "ca_bundle= a bundle that includes the GeoTrust TLS RSA CA G1 intermediate (or, knowingly, verify=False)",
            retryable=False,
        )
    if isinstance(exc, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return NepseConnectionError(f"{where}: the connection failed or was dropped ({type(exc).__name__})")
    return NepseConnectionError(f"{where}: the request failed ({type(exc).__name__})")
