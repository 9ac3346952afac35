"""The simulator's server state and HTTP surface: the handshake, the guard every data request passes, introspection.

The data endpoints themselves are listed in :mod:`~nepse_ray.sim.routes`.

A data request goes through, in order: latency, the Referer check (403 JSON when ``require_referer`` and the
header is missing), the per-address limit, the token check (401 JSON: missing, malformed, forged, expired or
un-stripped), the per-token limit (``on_excess``: by default the answer is held until the token's next slot, up to
``excess_hold`` seconds, and past that the connection is dropped, or ``200 []`` answers a page; or 429 +
Retry-After, a dropped connection, ``200 []`` at once), one fault draw, the signed-body check (``200 []`` when
``{"id": N}`` does not match the token's salts), and finally the endpoint, whose answer the hostile kinds in force
may rewrite or deliver in a hostile way (:mod:`~nepse_ray.sim.hostile`). Unknown security or index ids answer 404
JSON, malformed query values 400 JSON. The per-company floorsheet answers the site's nginx 403 page before any
check (unless ``security_floorsheet_rows``). A POST to a GET endpoint answers Spring's 405 JSON with ``Allow``
at once; a path under ``/api`` that the site does not serve passes the same checks as a data request and answers
Spring's 404 JSON, another method it does not take Spring's 405 JSON with ``Allow``; any other path is the site's
single-page app (its HTML shell for GET). The site changes in force (:mod:`~nepse_ray.sim.changes`) decide the
token module and obfuscation, how bodies are signed, which fields an answer has and which GET endpoints answer 405.

Latency applies to every ``/api`` request; the other faults only to data calls, so a client can always obtain a
token (the handshake and ``css.wasm`` are never faulted).

Introspection, never authed and never counted: ``GET /_sim/stats``, ``GET|POST /_sim/config`` (JSON of the
fields to change) and ``POST /_sim/reset-stats``. The two POSTs answer only requests whose Host is a loopback
address or ``localhost`` (403 otherwise), and ``/_sim/config`` only ``Content-Type: application/json`` (415).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import random
import secrets
import time
from typing import Any, TypeVar
from urllib.parse import urlsplit

from aiohttp import web

from ..nepse.payload import NEPAL_TZ, VARIANT_BY_ENDPOINT, PayloadVariant, payload_id
from . import hostile
from .auth import TokenIssuer, TokenRecord, TokenRejected
from .changes import SiteChanges, site_changes
from .config import SimConfig
from .days import TradingDays
from .faults import (
    APP_SHELL_HTML,
    BAD_GATEWAY_HTML,
    FORBIDDEN_HTML,
    NOT_ALLOWED_HTML,
    draw_fault,
    draw_latency,
    non_json_body,
)
from .limits import KeyedRateLimiter, retry_after_header
from .market import build_market, default_business_date, previous_trading_days
from .responses import responses_for
from .routes import BadRequest, Route, data_routes
from .stats import SimStats
from .wasm import css_wasm
from .wire import encode

JSON = "application/json"
Answer = TypeVar("Answer", bound=web.StreamResponse)
EMPTY_LIST = b"[]"
#: Status of the placeholder response returned after a connection is dropped (never sent).
DROPPED = 499
STATS_PAGE_SIZE = 500
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
}


def _json_error(request: web.Request, status: int, message: str) -> web.Response:
    """A Spring-style error body."""
    body = {
        "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        "status": status,
        "error": _REASONS.get(status, "Error"),
        "message": message,
        "path": request.path,
    }
    return web.Response(status=status, body=encode(body), content_type=JSON)


def _refuse_remote_control(request: web.Request) -> web.Response | None:
    """403 unless the request is addressed to this machine by its Host header: a web page that makes the user's
    browser post to the simulator (a name of its own resolving to 127.0.0.1, DNS rebinding) is refused. A JSON
    content type, which a page cannot send cross-origin without a preflight the simulator never answers, is
    required of ``POST /_sim/config`` as well."""
    host = urlsplit(f"//{request.host}").hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return _json_error(request, 403, "the simulator's controls answer requests addressed to 127.0.0.1 only")


class SimServer:
    """The state of one simulator: config, market, token issuer, limiters, RNGs and stats.

    Everything here runs on one event loop; :class:`~nepse_ray.sim.server.Simulator` calls in through it.
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        business_date = config.business_date or default_business_date(self.nepal_date())
        self.market = build_market(
            seed=config.seed,
            trades=config.trades,
            business_date=business_date,
            market_open=config.market_open,
            live=config.live_capacity,
        )
        self.responses = responses_for(self.market)
        self.responses.warm()
        past = {}
        for day in previous_trading_days(business_date, config.past_days):
            closed = build_market(seed=config.seed, trades=config.trades, business_date=day, market_open=False)
            past[day] = responses_for(closed)
        for responses in past.values():
            responses.warm()
        self.days = TradingDays(self.responses, past, live_trades_per_s=config.live_trades_per_s, started=self.now())
        self.issuer = TokenIssuer(secrets.token_bytes(32), random.Random(f"nepse-sim:{config.seed}:handshake"))
        self.fault_rng = random.Random(f"nepse-sim:{config.seed}:faults")
        self.stats = SimStats(floorsheet_rows=self.market.initial_trades, page_size=STATS_PAGE_SIZE)
        self.token_limiter: KeyedRateLimiter | None = None
        self.address_limiter: KeyedRateLimiter | None = None
        self._build_limiters()

    # -- clock and configuration -----------------------------------------------------------------------------

    def now(self) -> float:
        """Wall-clock seconds plus ``clock_offset``: the one time source of tokens, limits and stats."""
        return time.time() + self.config.clock_offset

    def nepal_date(self) -> dt.date:
        return dt.datetime.fromtimestamp(self.now(), NEPAL_TZ).date()

    def configure(self, **changes: Any) -> SimConfig:
        old = self.config
        self.config = old.with_changes(**changes)
        limits = ("rate_limit", "burst", "rate_leeway", "address_rate_limit", "address_burst")
        if any(getattr(old, f) != getattr(self.config, f) for f in limits):
            self._build_limiters()
        return self.config

    def _build_limiters(self) -> None:
        c = self.config
        self.token_limiter = KeyedRateLimiter(c.rate_limit, c.burst, c.rate_leeway) if c.rate_limit else None
        self.address_limiter = (
            KeyedRateLimiter(c.address_rate_limit, c.address_burst, c.rate_leeway) if c.address_rate_limit else None
        )

    @property
    def changes(self) -> SiteChanges:
        """The site changes in force."""
        return site_changes(self.config.changes)

    def payload_day(self) -> int:
        """The day term ``d`` the server expects in payload ids, per ``day_source`` (or the day-term change)."""
        source = self.changes.day_source or self.config.day_source
        if source == "asof":
            return self.market.business_date.day
        if source == "nepal":
            return self.nepal_date().day
        return dt.datetime.fromtimestamp(self.now()).day

    def expected_payload_id(self, endpoint: str, record: TokenRecord) -> int:
        variant = self.changes.variant(endpoint) or VARIANT_BY_ENDPOINT[endpoint]
        if endpoint == "today_price" and endpoint not in self.changes.variants:
            variant = PayloadVariant(self.config.today_price_variant)
        return payload_id(variant, market_id=self.config.market_id, day=self.payload_day(), salts=record.salts)

    def snapshot(self) -> dict[str, Any]:
        """The counters, and the ground truth of the served days: the business day's trades that exist now (with
        the contract id of the first), every day with data, and for a live day (``live``) the trades, securities
        traded, turnover and NEPSE index the live market and the indices show now."""
        now = self.now()
        self.stats.floorsheet_rows = self.days.visible_trades(now)
        live = self.days.live(now)
        return self.stats.snapshot(
            business_date=self.market.business_date.isoformat(),
            first_contract_id=self.market.contract_id(0),
            served_days=[day.isoformat() for day in self.days.served],
            site_changes=self.changes.describe(),
            **({"live": live.truth()} if live is not None else {}),
        )

    # -- the guard ---------------------------------------------------------------------------------------------

    async def _delay(self) -> None:
        seconds = draw_latency(self.config, self.fault_rng)
        if seconds > 0:
            self.stats.count_fault("latency")
            await asyncio.sleep(seconds)

    async def _limit(
        self, request: web.Request, limiter: KeyedRateLimiter, key: object, label: str | None, pageable: bool
    ) -> web.Response | None:
        """None when the request may go on (at once, or after being held); otherwise the answer to an excess."""
        now = self.now()
        mode = self.config.on_excess
        if mode == "site":
            hold = limiter.reserve(key, now, self.config.excess_hold)
            if hold is not None and hold <= 0:
                return None
            self.stats.count_violation(label)
            if hold is not None:  # a slow answer
                await asyncio.sleep(hold)
                return None
            return web.Response(body=EMPTY_LIST, content_type=JSON) if pageable else self._drop(request)
        wait = limiter.admit(key, now)
        if wait is None:
            return None
        self.stats.count_violation(label)
        if mode == "drop":
            return self._drop(request)
        if mode == "empty":
            return web.Response(body=EMPTY_LIST, content_type=JSON)
        response = _json_error(request, 429, "too many requests; slow down")
        response.headers["Retry-After"] = retry_after_header(wait)
        return response

    @staticmethod
    def _drop(request: web.Request) -> web.Response:
        """Close the connection without an answer; aiohttp discards the response returned afterwards."""
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=DROPPED)

    async def _admit_client(self, request: web.Request, pageable: bool = False) -> web.Response | None:
        """The checks every /api request passes: Referer, then the per-address limit."""
        self.stats.count_address(request.remote or "")
        if self.config.require_referer and not request.headers.get("Referer"):
            self.stats.count_auth_failure("referer")
            return _json_error(request, 403, "a Referer header is required")
        if self.address_limiter is not None:
            return await self._limit(request, self.address_limiter, request.remote, None, pageable)
        return None

    def _authenticate(self, request: web.Request, now: float) -> TokenRecord | web.Response:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if scheme != "Salter" or not token:
                raise TokenRejected("missing")
            return self.issuer.verify(token, now)
        except TokenRejected as rejected:
            self.stats.count_auth_failure(rejected.reason)
            return _json_error(request, 401, f"invalid or expired token ({rejected.reason}); call /prove again")

    async def _signed_body_ok(self, request: web.Request, route: Route, record: TokenRecord) -> bool:
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return False
        sent = body.get("id") if isinstance(body, dict) else None
        if isinstance(sent, str) and sent.isdigit():
            sent = int(sent)
        if isinstance(sent, bool) or not isinstance(sent, int):
            return False
        return sent == self.expected_payload_id(route.name, record)

    async def guard(self, request: web.Request, route: Route) -> web.StreamResponse:
        self.stats.count_request(route.name)
        sent = self.now()
        await self._delay()
        if route.blocked():
            return web.Response(status=403, body=FORBIDDEN_HTML, content_type="text/html")
        signed = request.method == "POST" and self.changes.variant(route.name) is not None
        pageable = signed or route.paged
        refused = await self._admit_client(request, pageable)
        if refused is not None:
            return refused
        now = self.now()
        record = self._authenticate(request, now)
        if isinstance(record, web.Response):
            return record
        self.stats.count_token(record.label, now)
        self.stats.count_sent(record.label, sent)
        if self.token_limiter is not None:
            refused = await self._limit(request, self.token_limiter, record.token_id, record.label, pageable)
            if refused is not None:
                return refused
        fault = draw_fault(self.config, self.fault_rng, pageable=pageable)
        if fault is not None:
            self.stats.count_fault(fault)
        if fault == "drop":
            return self._drop(request)
        if fault == "5xx":
            return web.Response(status=502, body=BAD_GATEWAY_HTML, content_type="text/html")
        if fault == "403":
            return web.Response(status=403, body=FORBIDDEN_HTML, content_type="text/html")
        if fault == "early_expiry":
            self.issuer.revoke(record)
            return _json_error(request, 401, "invalid or expired token (expired); call /prove again")
        if fault == "empty" or (signed and not await self._signed_body_ok(request, route, record)):
            return web.Response(body=EMPTY_LIST, content_type=JSON)
        try:
            body = route.handler(request)
        except BadRequest as bad:
            return _json_error(request, 400, str(bad))
        except web.HTTPMethodNotAllowed as wrong:
            response = _json_error(request, 405, f"Request method '{request.method}' is not supported")
            response.headers["Allow"] = ", ".join(sorted(wrong.allowed_methods))
            return response
        except web.HTTPNotFound:
            return _json_error(request, 404, "No message available")
        if body is None:
            return _json_error(request, 404, "no such security or index")
        body = self.changes.rewrite(route.name, body)
        if fault == "non_json":
            text, content_type = non_json_body(body, self.fault_rng)
            return web.Response(body=text, content_type=content_type)
        attacks = hostile.active(self.config.hostile, route.name)
        for attack in attacks:
            self.stats.count_fault(f"hostile:{attack.name}")
        return await hostile.respond(
            attacks, route.name, request, body, lambda name: self.stats.count_fault(f"hostile:{name}:abandoned")
        )

    def counted(self, response: Answer) -> Answer:
        self.stats.count_status("dropped" if response.status == DROPPED else response.status)
        return response

    # -- handshake -----------------------------------------------------------------------------------------

    async def prove(self, request: web.Request) -> web.Response:
        return self.counted(await self._prove(request))

    async def _prove(self, request: web.Request) -> web.Response:
        self.stats.count_request("prove")
        await self._delay()
        refused = await self._admit_client(request)
        if refused is not None:
            return refused
        now = self.now()
        if self.issuer.issued % 1000 == 999:  # keep memory flat on long runs
            self.issuer.forget_expired(now)
            for limiter in (self.token_limiter, self.address_limiter):
                if limiter is not None:
                    limiter.forget_idle(now)
        grant = self.issuer.issue(now, self.config.token_ttl, self.config.refresh_token_ttl, self.changes.scheme)
        self.stats.tokens_issued += 1
        s1, s2, s3, s4, s5 = grant.record.salts
        body = {
            "serverTime": int(now * 1000),
            "salt": grant.salt_text,
            "accessToken": grant.access_token,
            "tokenType": "",
            "refreshToken": grant.refresh_token,
            "salt1": s1,
            "salt2": s2,
            "salt3": s3,
            "salt4": s4,
            "salt5": s5,
            "isDisplayActive": False,
            "popupDocFor": "",
        }
        return web.Response(body=encode(body), content_type=JSON)

    async def refresh_token(self, request: web.Request) -> web.Response:
        """The site's refresh endpoint has not worked since 2023 (clients prove again instead): always 401."""
        self.stats.count_request("refresh_token")
        refused = await self._admit_client(request)
        return self.counted(
            refused or _json_error(request, 401, "refresh is not supported; call /api/authenticate/prove")
        )

    async def wasm(self, request: web.Request) -> web.Response:
        self.stats.count_request("css_wasm")
        return web.Response(body=css_wasm(self.changes.scheme), content_type="application/wasm")

    # -- introspection -----------------------------------------------------------------------------------

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.Response(body=encode(self.snapshot()), content_type=JSON)

    async def get_config(self, request: web.Request) -> web.Response:
        return web.Response(body=encode(self.config.model_dump(mode="json")), content_type=JSON)

    async def post_config(self, request: web.Request) -> web.Response:
        refused = _refuse_remote_control(request)
        if refused is not None:
            return refused
        if request.content_type != JSON:
            return _json_error(request, 415, "send the fields to change as JSON, with Content-Type: application/json")
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object of the fields to change")
            config = self.configure(**changes)
        except ValueError as error:  # pydantic's ValidationError and JSON errors are ValueErrors
            return _json_error(request, 400, str(error))
        return web.Response(body=encode(config.model_dump(mode="json")), content_type=JSON)

    def method_refused(self, request: web.Request, route: Route) -> web.Response | None:
        """405 for a GET to an endpoint the get-to-post change made POST-only, and for a POST to a GET endpoint."""
        post_only = route.name in self.changes.post_only
        if request.method == ("GET" if post_only else "POST") and route.method == "GET":
            self.stats.count_request(route.name)
            response = _json_error(request, 405, f"Request method '{request.method}' is not supported")
            response.headers["Allow"] = "POST" if post_only else "GET"
            return response
        return None

    async def reset_stats(self, request: web.Request) -> web.Response:
        refused = _refuse_remote_control(request)
        if refused is not None:
            return refused
        self.stats.reset()
        return web.Response(status=204)


async def _unrouted(server: SimServer, request: web.Request, failure: web.HTTPException) -> web.StreamResponse:
    """What the site answers a path or method it does not serve: under ``/api``, after the same checks as any
    data request, Spring's 404 or 405 JSON; elsewhere the single-page app (nginx serves its shell for GET)."""
    if request.path.startswith("/api/"):

        def refuse(_: web.Request) -> bytes:
            raise failure

        route = Route("unknown", request.method, request.path, refuse)
        return server.counted(await server.guard(request, route))
    if request.method in ("GET", "HEAD"):
        return web.Response(body=APP_SHELL_HTML, content_type="text/html")
    return web.Response(status=405, body=NOT_ALLOWED_HTML, content_type="text/html")


def make_app(server: SimServer) -> web.Application:
    """The aiohttp application of one simulator."""

    @web.middleware
    async def site_errors(request: web.Request, handler: Any) -> web.StreamResponse:
        failure = request.match_info.http_exception
        if failure is not None and failure.status in (404, 405):
            return await _unrouted(server, request, failure)
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[site_errors])
    add = app.router.add_route
    routes = data_routes(server.days, lambda: server.config, server.now)
    posted = {route.path for route in routes if route.method == "POST"}
    for route in routes:

        async def endpoint(request: web.Request, route: Route = route) -> web.StreamResponse:
            return server.counted(server.method_refused(request, route) or await server.guard(request, route))

        # A GET endpoint also takes POST, answered 405 unless the get-to-post change moved it there (where no POST
        # endpoint shares its path: security/{id}, market/graphdata/{id}).
        methods = ("GET", "POST") if route.method == "GET" and route.path not in posted else (route.method,)
        paths = [route.path]
        if route.path.endswith("/") or "{" in route.path.rsplit("/", 1)[-1]:
            # The site answers with or without the trailing slash (market-summary/, marketdepth/{id}/).
            paths.append(route.path.rstrip("/") if route.path.endswith("/") else route.path + "/")
        for path in paths:
            for method in methods:
                add(method, path, endpoint)
    add("GET", "/api/authenticate/prove", server.prove)
    add("POST", "/api/authenticate/refresh-token", server.refresh_token)
    add("GET", "/assets/prod/css.wasm", server.wasm)
    add("GET", "/_sim/stats", server.get_stats)
    add("GET", "/_sim/config", server.get_config)
    add("POST", "/_sim/config", server.post_config)
    add("POST", "/_sim/reset-stats", server.reset_stats)
    return app
