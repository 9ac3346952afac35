"""One exception hierarchy for everything a NEPSE call can raise.

Every exception is picklable (Ray ships them between processes) and carries only what is safe to show:
the endpoint name, the HTTP status and whether a retry may help. Tokens, salts and payload ids are never put
into a message or an attribute.
"""

from __future__ import annotations

from typing import Any


class NepseError(Exception):
    """Base class of every nepse-ray error.

    ``retryable`` tells a caller (or the pool's coordinator) whether the same request may succeed later;
    ``retry_after`` is the server's hint in seconds when it gave one.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        endpoint: str | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.endpoint = endpoint
        self.status = status
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[NepseError], message: str, state: dict[str, Any]) -> NepseError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class NepseInputError(NepseError, ValueError):
    """The caller passed something the protocol cannot accept (a negative salt, a short token, a bad date)."""


class NepsePathNotAllowedError(NepseInputError):
    """A request was aimed outside the allowlisted NEPSE paths."""


class NepseAuthError(NepseError):
    """The server refused the token (HTTP 401) even after a fresh handshake."""


class NepseHandshakeError(NepseError):
    """``/api/authenticate/prove`` answered with something that is not a usable token."""

    retryable = True


class NepseRateLimitedError(NepseError):
    """HTTP 429: the server asked us to slow down; ``retry_after`` holds its hint."""

    retryable = True

    @classmethod
    def beyond_cap(
        cls, endpoint: str | None, retry_after: float, max_retry_after: float, status: int | None = 429
    ) -> NepseRateLimitedError:
        """The error for a server that asks to wait longer than ``max_retry_after`` seconds: not retried."""
        return cls(
            f"{endpoint}: the site asked to wait {retry_after:g} s before the next request, more than "
            f"max_retry_after={max_retry_after:g} s; try again later, or raise max_retry_after to wait that long",
            endpoint=endpoint,
            status=status,
            retry_after=retry_after,
            retryable=False,
        )


class NepseEmptyPageError(NepseError):
    """A signed request answered ``200 []`` with every candidate payload variant.

    On the real site this means a stale payload id or a page lost under load; a later retry usually works.
    """

    retryable = True


class NepseInvalidResponseError(NepseError):
    """A 2xx answer whose body is not the JSON the endpoint promises (HTML, empty, or the wrong shape)."""

    retryable = True


class NepseForbiddenError(NepseError):
    """HTTP 403, typically an HTML page served to clients the site considers abusive.

    The client answers the first 403 with one fresh token and one retry; a 403 that reaches its caller came back
    even so, and repeating the request soon only makes the site's judgement worse, so it is not retryable.
    """


class NepseServerError(NepseError):
    """HTTP 5xx from the server."""

    retryable = True


class NepseClientRequestError(NepseError):
    """HTTP 4xx other than 401/403/429: the request itself is wrong and repeating it will not help."""


class NepseConnectionError(NepseError):
    """The connection failed or was dropped before a complete response arrived."""

    retryable = True


class NepseTimeoutError(NepseError):
    """The server did not answer within the connect or read timeout."""

    retryable = True


class NepseDeadlineError(NepseTimeoutError):
    """One attempt (connecting, waiting and reading the whole body) took longer than the client's ``total_timeout``.

    The server answered, but too slowly: typically a body trickled out a few bytes at a time.
    """


class NepseResponseTooLargeError(NepseError):
    """The answer's body, counted after decompression, passed the client's ``max_body_bytes``.

    Not retryable: a server that sends an endless or bomb-sized body will send it again.
    """


class NepseHeaderValueError(NepseError):
    """A request header cannot be sent: its value holds characters outside latin-1, or line breaks.

    In the Authorization header this means the token from the handshake is malformed; a later prove gives a new one.
    The message names the header, never its value.
    """
