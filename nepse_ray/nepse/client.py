"""NepseClient: one NEPSE session — one token, one transport, one rate limiter — with every catalogue endpoint.

Each request takes a permit from the token bucket, goes only to an allowlisted path, carries the project's
headers, and has its answer mapped to a parsed model or to one named :mod:`errors` exception. The client
handles three things itself and leaves every other retry to its caller (the pool's coordinator):

* HTTP 401 and 403: drop the token, prove once more and retry once (:meth:`TokenManager.authorised`); a second
  403 surfaces as a non-retryable :class:`NepseForbiddenError` (the site is refusing us; hammering makes it worse);
* HTTP 429: pause the whole token bucket for ``Retry-After`` (every thread sharing this client waits, not only the
  one that got the 429) and retry up to ``max_rate_limit_retries`` times; a ``Retry-After`` longer than
  ``max_retry_after`` fails at once with a non-retryable :class:`NepseRateLimitedError` that says how long the
  site asked to wait;
* ``200 []`` from a signed endpoint that never answers with a list: retry with the endpoint's other known payload
  rules, then search the others once (:mod:`~nepse_ray.nepse.signing`), then raise :class:`NepseEmptyPageError`;
* a freshly proved token refused: heal the token decoder from the site's ``css.wasm`` (:mod:`~nepse_ray.nepse.auth`).

What the client learns about the site (the decoder, payload rules that healed) lives in a
:class:`~nepse_ray.nepse.site.SiteMemory`: its own, or one it shares (``site=``; a pool's workers share their
coordinator's).

Signed bodies are recomputed on every attempt from the token actually sent. It is safe to call one client
from several threads.

Against the real site, ``NepseClient()``; here against the simulator (``nepse_ray.sim``):

>>> from nepse_ray.sim import Simulator
>>> with Simulator(trades=2_000) as site, NepseClient(site.base_url) as client:
...     status = client.market_open()
...     page = client.floorsheet(page=0, size=500)
>>> page.floorsheets.total_elements, len(page.floorsheets.content)
(2000, 500)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import importlib.metadata
import ipaddress
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import ValidationError

from .auth import TokenManager, TokenState
from .decoder import MAX_MODULE_BYTES, MODULE_PATH, DecoderName
from .drift import schema_error
from .endpoints import SESSION_METHODS, Endpoint, PreparedCall, prepare
from .errors import (
    NepseAuthError,
    NepseClientRequestError,
    NepseError,
    NepseForbiddenError,
    NepseInputError,
    NepseInvalidResponseError,
    NepsePathNotAllowedError,
    NepseRateLimitedError,
    NepseResponseTooLargeError,
    NepseServerError,
)
from .methods import CatalogueMethods, SessionMethods
from .paging import check_page
from .payload import PayloadRule
from .ratelimit import TokenBucket
from .signing import SignedCalls
from .site import Site, SiteMemory
from .transport import DEFAULT_MAX_BODY_BYTES, DEFAULT_TOTAL_TIMEOUT, RawResponse, RequestsTransport, Transport

T = TypeVar("T")

logger = logging.getLogger("nepse_ray")

DEFAULT_BASE_URL = "https://www.nepalstock.com"

#: Seconds to wait after a 429 that carries no usable ``Retry-After``.
DEFAULT_RETRY_AFTER = 1.0

_ALLOWED_PREFIXES = ("/api/nots", "/api/authenticate")
_ALLOWED_FILES = frozenset({MODULE_PATH})
#: The one static file nepse-ray fetches: the token module, without a token.
_MODULE_CALL = PreparedCall(
    Endpoint("css_wasm", "GET", MODULE_PATH, bytes, doc="The site's token module."), MODULE_PATH, ()
)
_SAFE_PATH = re.compile(r"/[A-Za-z0-9/_.-]*")


def _default_user_agent() -> str:
    try:
        version = importlib.metadata.version("nepse-ray")
    except importlib.metadata.PackageNotFoundError:
        version = "0"
    return f"nepse-ray/{version} (python-requests)"


#: An honest User-Agent that names the project.
DEFAULT_USER_AGENT = _default_user_agent()


def normalise_base_url(base_url: str, *, allow_insecure_http: bool = False) -> str:
    """``scheme://host[:port]`` of ``base_url``; raise :class:`NepseInputError` for anything else.

    Credentials (``user:password@``) are refused without repeating them. ``http://`` is refused for any host but
    loopback unless ``allow_insecure_http``: the access token would cross the network in clear text.
    """
    if isinstance(base_url, str) and "@" in base_url:
        raise NepseInputError(
            "base_url must be http(s)://host[:port] without credentials (user:password@): NEPSE needs none, and a "
            f"URL ends up in messages and logs, so the one given is not repeated here; for example {DEFAULT_BASE_URL!r}"
        )
    try:
        parts = urlsplit(base_url)
        port_ok = parts.port is None or parts.port > 0
    except (TypeError, ValueError, AttributeError):
        parts, port_ok = None, False
    if (
        parts is None
        or not port_ok
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise NepseInputError(
            f"base_url must be http(s)://host[:port] with no path, query or credentials, got {base_url!r}; "
            f"for example {DEFAULT_BASE_URL!r}"
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise NepseInputError(
            f"base_url {base_url!r} is plain http:// to a host other than this machine: the access token would "
            "travel in clear text. Use https://, or pass allow_insecure_http=True to accept that knowingly"
        )
    return f"{parts.scheme}://{parts.netloc}"


def insecure_tls_warning(base_url: str) -> str:
    """The warning for ``verify=False``: logged by every client, and once per site by a pool's facade."""
    return (
        f"TLS certificate verification is OFF for {base_url} (verify=False): anyone on the network path can read "
        "and alter this client's traffic. The default trust verifies nepalstock.com; prefer it, or ca_bundle=."
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_allowed_path(path: str) -> None:
    """Raise :class:`NepsePathNotAllowedError` unless ``path`` is one nepse-ray may request."""
    allowed = path in _ALLOWED_FILES or any(path == p or path.startswith(p + "/") for p in _ALLOWED_PREFIXES)
    if not allowed or not _SAFE_PATH.fullmatch(path) or any(s in (".", "..") for s in path.split("/")):
        raise NepsePathNotAllowedError(
            f"refusing to request {path!r}: nepse-ray only calls paths under /api/nots/ and /api/authenticate/ "
            "and /assets/prod/css.wasm"
        )


def decode_response(raw: RawResponse, endpoint: str) -> object:
    """The decoded JSON of a 2xx answer, or the named exception for any other answer.

    Messages give the endpoint, the status and the kind of body — never the body itself.
    """
    check_status(raw, endpoint)
    return read_json(raw, endpoint)


def read_json(raw: RawResponse, endpoint: str) -> object:
    """The decoded JSON of a 2xx answer; :class:`NepseInvalidResponseError` if the body is not JSON."""
    try:
        return json.loads(raw.body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        problem = "instead of JSON"
    except RecursionError:
        problem = "nested too deeply to decode"
    raise _not_json(raw, endpoint, problem)


def read_model(endpoint: Endpoint, raw: RawResponse) -> Any:
    """The endpoint's response model of a 2xx answer, validated straight from the bytes; a page's paging checked
    by :func:`~nepse_ray.nepse.paging.check_page` (no more rows than ``raw.page_size``, numbers in bounds).

    One pass over the body (pydantic's ``validate_json``) instead of ``json.loads`` and then validation: about
    half the CPU for a 500-row page.
    """
    model = _validated(endpoint, raw)
    if endpoint.paged:
        page = getattr(model, endpoint.page_field) if endpoint.page_field else model
        check_page(
            endpoint.name,
            rows=len(page.content),
            total_elements=page.total_elements,
            total_pages=page.total_pages,
            number=page.number,
            size=raw.page_size,
        )
    return model


def _validated(endpoint: Endpoint, raw: RawResponse) -> Any:
    """The body validated against the endpoint's model. The error is raised outside the ``except`` block, so it
    keeps no reference to pydantic's, which holds the body."""
    try:
        return endpoint.adapter.validate_json(raw.body)
    except ValidationError as exc:
        failure = _invalid_model(endpoint, raw, exc)
    raise failure


def _invalid_model(endpoint: Endpoint, raw: RawResponse, exc: ValidationError) -> NepseInvalidResponseError:
    not_json = [error["msg"] for error in exc.errors() if error["type"] == "json_invalid"]
    if not not_json:
        return schema_error(endpoint, exc, json.loads(raw.body)) or endpoint.shape_error(exc)
    problem = "nested too deeply to decode" if "recursion limit" in not_json[0] else "instead of JSON"
    return _not_json(raw, endpoint.name, problem)


def read_checked_body(endpoint: Endpoint, raw: RawResponse) -> bytes:
    """The body of a 2xx answer, once :func:`read_model` has checked it is what the endpoint promises.

    For callers that ship the bytes elsewhere (the pool's workers) and build the model where it is used.
    """
    read_model(endpoint, raw)
    return raw.body


def check_status(raw: RawResponse, endpoint: str) -> None:
    """Return for a 2xx answer; raise the named exception for any other status."""
    status = raw.status
    if 200 <= status < 300:
        return
    if status == 401:
        raise NepseAuthError(
            f"{endpoint}: HTTP 401, the server refused the access token", endpoint=endpoint, status=401
        )
    if status == 403:
        raise NepseForbiddenError(
            f"{endpoint}: HTTP 403 Forbidden ({_describe_body(raw)}); the site is refusing this client, "
            "slow down and retry later",
            endpoint=endpoint,
            status=403,
        )
    if status == 429:
        retry_after = _retry_after_seconds(raw.header("Retry-After"))
        raise NepseRateLimitedError(
            f"{endpoint}: HTTP 429 Too Many Requests; the server asks to wait {retry_after:g} s",
            endpoint=endpoint,
            status=429,
            retry_after=retry_after,
        )
    if status >= 500:
        raise NepseServerError(f"{endpoint}: HTTP {status} server error; retry later", endpoint=endpoint, status=status)
    if 300 <= status < 400:
        target = urlsplit(raw.header("Location") or "")
        where = f" to {target.scheme}://{target.netloc}" if target.netloc else ""
        raise NepseClientRequestError(
            f"{endpoint}: HTTP {status}, the site redirects{where}; point base_url at the host that serves the API",
            endpoint=endpoint,
            status=status,
        )
    raise NepseClientRequestError(
        f"{endpoint}: HTTP {status}, the server rejected the request as invalid; repeating it will not help",
        endpoint=endpoint,
        status=status,
    )


def _not_json(raw: RawResponse, endpoint: str, problem: str = "instead of JSON") -> NepseInvalidResponseError:
    return NepseInvalidResponseError(
        f"{endpoint}: HTTP {raw.status} with {_describe_body(raw)} {problem}",
        endpoint=endpoint,
        status=raw.status,
    )


def _asked_page_size(call: PreparedCall) -> int | None:
    """The ``size`` a paged call asks for; ``None`` for other calls."""
    if not call.endpoint.paged:
        return None
    return next((int(value) for name, value in call.query if name == "size"), None)


def _describe_body(raw: RawResponse) -> str:
    body = raw.body.strip()
    if not body:
        return "an empty body"
    if body[:1] == b"<":
        return f"an HTML page ({len(raw.body)} bytes)"
    return f"{len(raw.body)} bytes of {raw.header('Content-Type') or 'untyped content'}"


def _retry_after_seconds(value: str | None) -> float:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; the default if absent or unusable."""
    if value is None:
        return DEFAULT_RETRY_AFTER
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return DEFAULT_RETRY_AFTER
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        seconds = (when - dt.datetime.now(dt.timezone.utc)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else DEFAULT_RETRY_AFTER


class NepseClient(CatalogueMethods, SessionMethods):
    """A thread-safe client for the NEPSE web API holding one token at a time.

    Endpoint methods (``market_open()``, ``floorsheet(page=...)``, ...) and :meth:`call` return parsed pydantic
    models, typed per endpoint; the session methods (``get_access_token()``, ``get_security_brief()``, ...) answer
    from the client's :class:`~nepse_ray.nepse.auth.TokenManager`. Failures raise the exceptions of
    :mod:`nepse_ray.nepse.errors`. ``verify`` stays on unless explicitly turned off (which is logged); ``ca_bundle``
    names a CA file to trust instead of the defaults.
    ``day`` overrides the day-of-month term of payload ids (default: today in Asia/Kathmandu).

    Each HTTP attempt may take ``total_timeout`` seconds in all (keep it below the pool's ``task_timeout``) and
    bring at most ``max_body_bytes`` of decompressed body. ``http://`` is accepted only for loopback hosts (the
    simulator) unless ``allow_insecure_http=True``. ``source_address`` binds every connection to that local address
    (see :class:`~nepse_ray.nepse.transport.RequestsTransport`).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        *,
        rate: float = 2.0,
        burst: int = 1,
        user_agent: str | None = None,
        referer: str | None = None,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        verify: bool = True,
        ca_bundle: str | None = None,
        max_rate_limit_retries: int = 2,
        max_retry_after: float = 60.0,
        day: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        transport: Transport | None = None,
        allow_insecure_http: bool = False,
        source_address: str | None = None,
        site: Site | None = None,
    ) -> None:
        self.base_url = normalise_base_url(base_url, allow_insecure_http=allow_insecure_http)
        timeouts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout, "total_timeout": total_timeout}
        for name, seconds in timeouts.items():
            if not (isinstance(seconds, (int, float)) and 0 < seconds < math.inf):
                raise NepseInputError(f"{name} must be a positive number of seconds, got {seconds!r}")
        if isinstance(max_rate_limit_retries, bool) or not isinstance(max_rate_limit_retries, int):
            raise NepseInputError(f"max_rate_limit_retries must be an int, got {max_rate_limit_retries!r}")
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise NepseInputError(f"max_body_bytes must be a positive int, got {max_body_bytes!r}")
        if max_rate_limit_retries < 0 or not max_retry_after >= 0:
            raise NepseInputError("max_rate_limit_retries and max_retry_after must not be negative")
        if ca_bundle is not None:
            if not verify:
                raise NepseInputError("ca_bundle= needs verify=True: a CA bundle is only used to verify certificates")
            if not os.path.exists(ca_bundle):
                raise NepseInputError(f"ca_bundle {ca_bundle!r} does not exist; pass the path of a PEM file")
        self._limiter = TokenBucket(rate, burst, clock=clock, sleep=sleep)
        self._max_rate_limit_retries = max_rate_limit_retries
        self._max_retry_after = float(max_retry_after)
        self._timeout = (float(connect_timeout), float(read_timeout))
        self._headers = MappingProxyType(
            {
                "User-Agent": user_agent if user_agent is not None else DEFAULT_USER_AGENT,
                "Referer": referer if referer is not None else self.base_url + "/",
                "Accept": "application/json, text/plain, */*",
                "Content-Type": "application/json",
            }
        )
        self._site: Site = site if site is not None else SiteMemory(self.fetch_token_module, clock=clock)
        self._tokens = TokenManager(self._exchange, clock=clock, day=day, site=self._site)
        self._signed = SignedCalls(self._site, self._tokens, self._count)
        self._stats_lock = threading.Lock()
        counters = (
            "requests_sent",
            "rate_limited",
            "empty_page_fallbacks",
            "empty_pages",
            "payload_heal_requests",
            "rate_limit_wait_seconds",
        )
        self._counts: dict[str, float] = dict.fromkeys(counters, 0)
        if not verify:
            logger.warning(insecure_tls_warning(self.base_url))
        self._transport: Transport = (
            transport
            if transport is not None
            else RequestsTransport(
                ca_bundle if ca_bundle is not None else verify,
                max_body_bytes=max_body_bytes,
                total_timeout=float(total_timeout),
                source_address=source_address,
            )
        )

    # -- calling endpoints ------------------------------------------------------------------------------

    def call(self, name: str, /, **params: Any) -> Any:
        """Call catalogue endpoint ``name`` with Python-named ``params`` and return its parsed response."""
        return self.fetch(name, params, read_model)

    def _request(self, name: str, params: dict[str, Any]) -> Any:
        """A typed method's call: a catalogue endpoint, or a session method of the token manager."""
        if name in SESSION_METHODS:
            return self._retrying_rate_limits(getattr(self._tokens, name))
        return self.call(name, **params)

    def fetch(
        self, name: str, params: Mapping[str, Any], read: Callable[[Endpoint, RawResponse], T], *, urgent: bool = False
    ) -> T:
        """Call catalogue endpoint ``name`` and turn its 2xx answer into a result with ``read``.

        ``read(endpoint, raw)`` must raise :class:`NepseInvalidResponseError` for a body that is not what the
        endpoint promises (:func:`read_model`, :func:`read_checked_body`); it runs once per answer, after the
        client's own handling of 401, 403, 429 and signed endpoints' ``200 []``. An ``urgent`` request (someone
        waits for it) takes the rate limiter's next permit before requests that are not.
        """
        call = prepare(name, params)
        endpoint = call.endpoint
        if not endpoint.signed:
            return read(endpoint, self._fetch_signed_as(call, None, urgent))
        raw = self._signed.answer(
            call, lambda rule: self._fetch_signed_as(call, rule, urgent), endpoint.rejects_as_empty_list
        )
        return read(endpoint, raw)

    def _fetch_signed_as(self, call: PreparedCall, rule: PayloadRule | None, urgent: bool) -> RawResponse:
        """Send ``call`` with a fresh token, its body (if signed) computed by ``rule`` from that token's salts."""

        def attempt(state: TokenState) -> RawResponse:
            body = None if rule is None else {"id": self._signed.payload_id(rule, state, call)}
            raw = self._send(call, state.access_token, body, urgent)
            check_status(raw, call.endpoint.name)
            return raw

        return self._retrying_rate_limits(lambda: self._tokens.authorised(attempt))

    def fetch_token_module(self) -> bytes:
        """The site's token module (``/assets/prod/css.wasm``) as served; no token needed.

        Raises the named error for a failure status, and :class:`NepseResponseTooLargeError` for a module larger
        than the decoder accepts (its transport reads at most ``max_body_bytes``).
        """
        raw = self.send_unauthenticated(_MODULE_CALL)
        check_status(raw, _MODULE_CALL.endpoint.name)
        if len(raw.body) > MAX_MODULE_BYTES:
            raise NepseResponseTooLargeError(
                f"css_wasm: the site's token module is {len(raw.body):,} bytes, more than the "
                f"{MAX_MODULE_BYTES // 1024} KiB nepse-ray accepts",
                endpoint=_MODULE_CALL.endpoint.name,
            )
        return raw.body

    def send_unauthenticated(self, call: PreparedCall) -> RawResponse:
        """``call`` sent once without a token, through the rate limiter; its raw answer, whatever the status (the
        doctor reads the prove's headers this way)."""
        return self._send(call, None, None)

    def send_signed(self, call: PreparedCall, rule: PayloadRule | None) -> RawResponse:
        """``call`` sent with a fresh token, its body signed by ``rule`` (none if ``None``), whatever its method; the
        raw 2xx answer, or the named error (the doctor probes a GET endpoint as a signed POST this way)."""
        return self._fetch_signed_as(call, rule, False)

    @property
    def site(self) -> Site:
        """The memory of what this client learned about the site (shared when ``site=`` was given)."""
        return self._site

    @property
    def token_decoder(self) -> DecoderName:
        """The decoder the current token was read with: ``builtin``, ``site-table`` or ``site-module``."""
        return self._tokens.decoder_name

    def _retrying_rate_limits(self, request: Callable[[], T]) -> T:
        """Run ``request``; after a 429 pause the token bucket for ``Retry-After`` and run it again."""
        retries = 0
        while True:
            try:
                return request()
            except NepseRateLimitedError as exc:
                self._count("rate_limited")
                delay = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER
                if delay > self._max_retry_after:
                    raise NepseRateLimitedError.beyond_cap(exc.endpoint, delay, self._max_retry_after) from None
                self._limiter.pause(delay)  # every thread of this client waits, not only this one
                if retries >= self._max_rate_limit_retries:
                    raise
                retries += 1

    def _exchange(self, call: PreparedCall, token: str | None, body: object | None = None) -> object:
        """One rate-limited request to an allowlisted path; the decoded JSON or a named exception."""
        return decode_response(self._send(call, token, body), call.endpoint.name)

    def _send(self, call: PreparedCall, token: str | None, body: object | None, urgent: bool = False) -> RawResponse:
        """One rate-limited request to an allowlisted path; its raw answer, whatever the status."""
        require_allowed_path(call.path)
        headers = self._headers if token is None else {**self._headers, "Authorization": f"Salter {token}"}
        self._count("rate_limit_wait_seconds", self._limiter.acquire(urgent=urgent))
        self._count("requests_sent")
        self._limiter.note_used()
        try:
            raw = self._transport.send(
                call.endpoint.method,
                self.base_url + call.path,
                headers=headers,
                params=call.query,
                json_body=body,
                timeout=self._timeout,
            )
        except NepseError as exc:
            if exc.endpoint is None:  # transports know the path, not the catalogue name
                exc.endpoint = call.endpoint.name
            raise
        size = _asked_page_size(call)
        return raw if size is None else dataclasses.replace(raw, page_size=size)

    def _count(self, counter: str, amount: float = 1) -> None:
        with self._stats_lock:
            self._counts[counter] += amount

    def stats(self) -> dict[str, float]:
        """Counters since construction (counts and seconds waited for the rate limiter, never secrets)."""
        with self._stats_lock:
            counts = dict(self._counts)
        return {
            "requests_sent": counts["requests_sent"],
            "proves": self._tokens.proves,
            "reproves_on_401": self._tokens.reproves_on_401,
            "reproves_on_403": self._tokens.reproves_on_403,
            "rate_limited": counts["rate_limited"],
            "empty_page_fallbacks": counts["empty_page_fallbacks"],
            "empty_pages": counts["empty_pages"],
            "payload_heal_requests": counts["payload_heal_requests"],
            "decoder_heals": self._tokens.decoder_heals,
            "rate_limit_wait_seconds": counts["rate_limit_wait_seconds"],
        }

    # -- lifetime -------------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the transport's connections."""
        self._transport.close()

    def __enter__(self) -> NepseClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NepseClient({self.base_url!r}, rate={self._limiter.rate:g}, burst={self._limiter.burst})"
