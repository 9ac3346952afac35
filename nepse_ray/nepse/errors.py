"""One exception hierarchy for everything nepse-ray can raise, grouped like httpx's.

Every exception is picklable (Ray ships them between processes) and carries only what is safe to show:
the endpoint name, the HTTP status and whether a retry may help (``retryable``). Tokens, salts and payload ids are
never put into a message or an attribute. Catch a group to handle a kind of failure, a leaf for one case::

    NepseError                          retryable: whether the same request may succeed later
    ├── NepseInputError (ValueError)    the caller passed something unusable; nothing was sent
    │   ├── NepsePathNotAllowedError      a path outside the allowlist
    │   ├── EmptyDayError                 pulls: a day without trading (future, weekend, holiday)
    │   ├── OutputError                   pulls: the output file cannot be written
    │   ├── PullTooLargeError             pulls: more pages than max_pages
    │   ├── UnknownSymbolError            pulls: a symbol not in the security list
    │   ├── NotADatasetError              dataset: a folder of other files, or a manifest it cannot read
    │   └── DatasetLockedError            dataset: another writer holds the folder's lock
    ├── NepseTransportError             no complete HTTP answer arrived
    │   ├── NepseConnectionError          connection failed or dropped (retryable)
    │   │   └── NepseCertificateError       the site's certificate did not verify, even through AIA
    │   ├── NepseTimeoutError             connect or read timeout (retryable)
    │   │   └── NepseDeadlineError          the attempt passed total_timeout
    │   ├── NepseResponseTooLargeError    the body passed max_body_bytes
    │   ├── NepseContentEncodingError     the body is encoded in a way nepse-ray did not ask for (Brotli...)
    │   └── NepseHeaderValueError         a header value cannot be sent (a malformed token)
    ├── NepseStatusError                the site answered with a failure status; .status holds it
    │   ├── NepseAuthError                401, again with a fresh token
    │   ├── NepseForbiddenError           403, again with a fresh token
    │   ├── NepseRateLimitedError         429 (retryable; .retry_after holds the site's hint)
    │   ├── NepseServerError              5xx (retryable)
    │   └── NepseClientRequestError       any other 4xx, or a redirect
    ├── NepseResponseError              a 2xx answer nepse-ray cannot use (retryable)
    │   ├── NepseInvalidResponseError     not the JSON the endpoint promises
    │   │   ├── NepseSchemaError            a field the model requires is gone from the site's answer
    │   │   └── PagingError                 pages that do not add up, or hold more rows than asked for
    │   ├── NepseEmptyPageError           200 [] with every payload variant
    │   ├── NepseHandshakeError           the prove's answer holds no usable token
    │   └── NepseDecoderError             the site's new css.wasm cannot be used (refused or unreadable)
    ├── PoolError                       the worker pool itself (nepse_ray.pool.errors)
    │   ├── TaskTimeoutError              a task ran past task_timeout (retryable)
    │   ├── WorkerLostError               the worker died mid-request (retryable)
    │   ├── PoolShutdownError             the pool is gone
    │   ├── PoolBusyError                 the bulk lane holds max_queued requests (retryable)
    │   ├── PoolRouteError                the replica was asked for a cached answer the pool forgot (retryable)
    │   ├── PoolConfigError               a pool of that name runs against another site or TLS setting
    │   ├── ClusterNotFoundError          nepse-ray stats: no Ray cluster at the address
    │   └── PoolNotFoundError             nepse-ray stats: no pool of that name
    ├── IncompletePullError             pulls: pages still missing after the last round (retryable)
    ├── IncompleteSyncError             dataset: listings that still failed when a sync ended (retryable)
    └── DatasetCorruptError             dataset: the manifest names a file nepse-ray never writes

The pool, pull and dataset classes live beside the code that raises them (:mod:`nepse_ray.pool.errors`,
:mod:`nepse_ray.pulls.errors` and ``.sinks``, :mod:`nepse_ray.dataset.errors`); :class:`PagingError` is here because
a page is refused where it is read; every class is exported from ``nepse_ray``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class NepseError(Exception):
    """Base class of every nepse-ray error.

    ``retryable`` tells a caller (or the pool's coordinator) whether the same request may succeed later;
    ``status`` is the HTTP status when there was one; ``retry_after`` is the server's hint in seconds when it gave
    one.
    """

    retryable: bool = False
    #: The status a class stands for, used when none is given (401 for NepseAuthError ...).
    default_status: ClassVar[int | None] = None

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
        self.status = status if status is not None else self.default_status
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


class NepseTransportError(NepseError):
    """No complete HTTP answer arrived: the connection, a timeout, the body's size, or a header that cannot be sent.

    Transports raise these with a message that names the method and the path only, never headers or body.
    """


class NepseStatusError(NepseError):
    """The site answered with a status that is not success; ``status`` holds it."""


class NepseResponseError(NepseError):
    """A 2xx answer nepse-ray cannot use: not the promised JSON, an empty page, or an unusable token."""

    retryable = True


class NepseAuthError(NepseStatusError):
    """The server refused the token (HTTP 401) even after a fresh handshake."""

    default_status = 401


class NepseHandshakeError(NepseResponseError):
    """``/api/authenticate/prove`` answered with something that is not a usable token."""

    retryable = True


class NepseRateLimitedError(NepseStatusError):
    """HTTP 429: the server asked us to slow down; ``retry_after`` holds its hint."""

    retryable = True
    default_status = 429

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


class NepseEmptyPageError(NepseResponseError):
    """A signed request answered ``200 []`` with every candidate payload variant.

    On the real site this means a stale payload id or a page lost under load; a later retry usually works.
    """

    retryable = True


class NepseInvalidResponseError(NepseResponseError):
    """A 2xx answer whose body is not the JSON the endpoint promises (HTML, empty, or the wrong shape)."""

    retryable = True


class NepseSchemaError(NepseInvalidResponseError):
    """The site's answer lacks a field the endpoint's model requires (in every row): the site renamed or dropped it.

    The message names the endpoint and the field (and a field the model does not know that arrived instead, when
    there is one). Not retryable: the next answer will lack it too; ``nepse-ray doctor`` names every difference.
    """

    retryable = False


class NepseDecoderError(NepseResponseError):
    """The site's token module (``/assets/prod/css.wasm``) changed and nepse-ray cannot use the new one.

    Raised when the module is too large, imports anything, cannot be read, or a call of it is stopped (its step
    budget or time box) or gives unusable positions; ``nepse-ray doctor`` reports it as ``token-decoder: broken``.
    Not retryable: the same module will be refused again.
    """

    retryable = False


class PagingError(NepseInvalidResponseError):
    """The site's paging does not add up: ``totalPages`` disagrees with ``totalElements`` and the page size, or a
    page holds more rows than the ``size`` asked for. Not retryable: the site's paging cannot be trusted."""

    retryable = False


class NepseForbiddenError(NepseStatusError):
    """HTTP 403, typically an HTML page served to clients the site considers abusive.

    The client answers the first 403 with one fresh token and one retry; a 403 that reaches its caller came back
    even so, and repeating the request soon only makes the site's judgement worse, so it is not retryable.
    """

    default_status = 403


class NepseServerError(NepseStatusError):
    """HTTP 5xx from the server."""

    retryable = True


class NepseClientRequestError(NepseStatusError):
    """HTTP 4xx other than 401/403/429, or a redirect: the request itself is wrong and repeating it will not help."""


class NepseConnectionError(NepseTransportError):
    """The connection failed or was dropped before a complete response arrived."""

    retryable = True


class NepseCertificateError(NepseConnectionError):
    """TLS verification failed: the site's certificate chain did not verify to a root nepse-ray trusts.

    When only an intermediate was missing, the client first tries to fetch it from the leaf's AIA URL (see
    :mod:`nepse_ray.nepse.aia`); this error means that did not help or did not apply. The message says why, what is
    trusted and what to pass (``ca_bundle=``). Not retryable: the same certificate will fail the same way.
    """

    retryable = False


class NepseTimeoutError(NepseTransportError):
    """The server did not answer within the connect or read timeout."""

    retryable = True


class NepseDeadlineError(NepseTimeoutError):
    """One attempt (connecting, waiting and reading the whole body) took longer than the client's ``total_timeout``.

    The server answered, but too slowly: typically a body trickled out a few bytes at a time.
    """


class NepseResponseTooLargeError(NepseTransportError):
    """The answer's body, counted after decompression, passed the client's ``max_body_bytes``.

    Not retryable: a server that sends an endless or bomb-sized body will send it again.
    """


class NepseContentEncodingError(NepseTransportError):
    """The answer came in a ``Content-Encoding`` other than gzip, deflate or identity, which the client never asks
    for (Brotli, zstd, a chain of encodings); it is refused undecoded, so no decoder can be made to bypass the
    ``max_body_bytes`` cap. Not retryable: the server or a proxy on the way will encode it so again.
    """


class NepseHeaderValueError(NepseTransportError):
    """A request header cannot be sent: its value holds characters outside latin-1, or line breaks.

    In the Authorization header this means the token from the handshake is malformed; a later prove gives a new one.
    The message names the header, never its value.
    """
