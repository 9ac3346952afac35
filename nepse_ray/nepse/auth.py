"""TokenManager: prove, decode, cache and refresh one NEPSE session's token, market id and security list.

A token is proved with ``GET /api/authenticate/prove``, de-obfuscated (salt2 for the access token, salt1 for
the refresh token) and reused while it is younger than ``max_token_age`` (45 s) by the *local monotonic
clock* — never by comparing the server's ``serverTime`` with a local clock. Every prove is followed by
``market-open`` with the new token, and the market id is re-fetched when the Nepal date changes. Refreshes are
single-flight: however many threads find the token stale at once, one prove is sent and the rest wait for it.

Tokens are de-obfuscated by the decoder the shared :class:`~nepse_ray.nepse.site.SiteMemory` names
(:mod:`~nepse_ray.nepse.decoder`). When the site refuses a token just proved (its ``market-open`` answers 401, or
the decoder's positions do not fit it), the manager asks the memory to heal the decoder (which may fetch the
site's ``css.wasm`` once) and, if it got another decoder, decodes the same prove again: a change of the token
module costs one refused request, not a failed session.

A request signs its body from :meth:`TokenManager.session`, one immutable :class:`TokenState`, so the payload
id always uses the salts of the token it is sent with. :meth:`TokenManager.authorised` runs a request with a
fresh token and, on a 401 or 403, drops that token, proves once more and retries once.

The manager does no I/O of its own: the client passes a :data:`Fetch` that sends one request through its
rate limiter, headers and error mapping. A request then looks like::

    manager = TokenManager(fetch)
    manager.authorised(lambda state: send(call, state.access_token, manager.payload_id(variant, state)))
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar

from . import models as m
from .decoder import DecoderName, DecoderSpec, decoder_for, strip
from .endpoints import Endpoint, PreparedCall, prepare
from .errors import (
    NepseAuthError,
    NepseError,
    NepseForbiddenError,
    NepseHandshakeError,
    NepseInputError,
    NepseInvalidResponseError,
)
from .payload import PayloadVariant, nepal_today, payload_id, validate_market_id
from .site import Site, SiteMemory
from .tokens import Salts, validate_salt
from .transport import require_sendable_headers

T = TypeVar("T")

#: Sends one GET for a prepared call, authorised with the given access token (``None``: no Authorization
#: header), and returns the decoded JSON body; raises the :mod:`errors` exception for any failure.
Fetch = Callable[[PreparedCall, str | None], object]

PROVE = Endpoint("prove", "GET", "/api/authenticate/prove", m.ProveResponse, doc="A fresh obfuscated token.")
_PROVE_CALL = PreparedCall(PROVE, PROVE.path, ())
_MARKET_OPEN_CALL = prepare("market_open", {})
_SECURITY_LIST_CALL = prepare("security_list", {"non_delisted": True})


@dataclasses.dataclass(frozen=True, slots=True)
class TokenState:
    """One proved session: the de-obfuscated tokens, the salts they came with, and the market status to sign with.

    ``issued_at`` is the local monotonic time at which the prove was sent; ``market_date`` the Nepal date on
    which ``market`` was fetched. The refresh token is kept only because the prove carries it: NEPSE's refresh
    endpoint has not worked since 2023, so the manager proves again instead.
    """

    access_token: str = dataclasses.field(repr=False)
    refresh_token: str = dataclasses.field(repr=False)
    salts: Salts = dataclasses.field(repr=False)
    market: m.MarketOpen
    market_date: dt.date
    issued_at: float

    @property
    def market_id(self) -> int:
        """The ``id`` of ``market-open``: the ``m`` of every payload id."""
        return self.market.id


@dataclasses.dataclass(frozen=True, slots=True)
class _SecurityBrief:
    briefs: tuple[m.SecurityBrief, ...]
    id_by_symbol: Mapping[str, int]
    fetched_at: float


class TokenManager:
    """Holds one session's token, market status and security brief; safe to share between threads."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_token_age: float = 45.0,
        brief_ttl: float = 3600.0,
        today: Callable[[], dt.date] = nepal_today,
        day: Callable[[], int] | None = None,
        site: Site | None = None,
    ) -> None:
        """``today`` gives the Nepal date (the market id is cached per date); ``day`` gives the day-of-month
        term of payload ids and defaults to ``today().day``; ``site`` is the memory whose decoder tokens are read
        with (its own, which never fetches, by default)."""
        if not max_token_age > 0:
            raise NepseInputError(f"max_token_age must be positive seconds, got {max_token_age!r}")
        if not brief_ttl >= 0:
            raise NepseInputError(f"brief_ttl must be zero or more seconds, got {brief_ttl!r}")
        self._fetch = fetch
        self._clock = clock
        self._max_token_age = max_token_age
        self._brief_ttl = brief_ttl
        self._today = today
        self._day = day if day is not None else lambda: today().day
        self._site: Site = site if site is not None else SiteMemory()
        self._decoder_name: DecoderName = "builtin"
        self._decoder_heals = 0
        self._lock = threading.Lock()  # guards the token state below; held while proving (single flight)
        self._state: TokenState | None = None
        self._proves = 0
        self._reproves = 0
        self._reproves_403 = 0
        self._brief_lock = threading.Lock()  # taken before self._lock, never after
        self._brief: _SecurityBrief | None = None

    # -- the session ------------------------------------------------------------------------------------

    def session(self) -> TokenState:
        """A token younger than ``max_token_age`` with today's market id, proving or re-fetching as needed."""
        with self._lock:
            state = self._state
            if state is None or self._clock() - state.issued_at >= self._max_token_age:
                return self._prove()
            if state.market_date != self._today():
                return self._refresh_market(state)
            return state

    def invalidate(self, access_token: str) -> None:
        """Forget ``access_token`` if it is still the current token (another thread may have replaced it)."""
        with self._lock:
            if self._state is not None and self._state.access_token == access_token:
                self._state = None

    def authorised(self, attempt: Callable[[TokenState], T]) -> T:
        """Run ``attempt`` with the current session; on a 401 or 403 re-prove once and run it again.

        A second 401 raises :class:`NepseAuthError` (the server refuses even a fresh token, and more proving will
        not help); a second 403 raises a non-retryable :class:`NepseForbiddenError` (the site is refusing this
        client, and hammering it makes that worse).
        """
        state = None
        try:
            state = self.session()
            return attempt(state)
        except (NepseAuthError, NepseForbiddenError) as exc:  # from attempt(), or from inside session()
            if state is not None:
                self.invalidate(state.access_token)
            with self._lock:
                if isinstance(exc, NepseAuthError):
                    self._reproves += 1
                else:
                    self._reproves_403 += 1
        try:
            return attempt(self.session())
        except (NepseAuthError, NepseForbiddenError) as exc:
            raise _refused_again(exc) from None

    def payload_id(self, variant: PayloadVariant, state: TokenState, *, day: int | None = None) -> int:
        """The body id for ``variant`` signed with the salts of ``state`` (the token the request will carry), with
        ``day`` as the day term (default: :meth:`day`)."""
        return payload_id(variant, market_id=state.market_id, day=self.day() if day is None else day, salts=state.salts)

    def day(self) -> int:
        """The default day term of payload ids: today's day of month in Nepal, unless the client was given one."""
        return self._day()

    @property
    def decoder_name(self) -> DecoderName:
        """The decoder the last proved token was read with: ``builtin``, ``site-table`` or ``site-module``."""
        return self._decoder_name

    @property
    def decoder_heals(self) -> int:
        """How many proves were read again with another decoder after the site refused the first reading."""
        return self._decoder_heals

    @property
    def proves(self) -> int:
        """How many times ``/prove`` answered with a usable token."""
        return self._proves

    @property
    def reproves_on_401(self) -> int:
        """How many 401 answers made a request drop its token and retry with a new one."""
        return self._reproves

    @property
    def reproves_on_403(self) -> int:
        """How many 403 answers made a request drop its token and retry once with a new one."""
        return self._reproves_403

    def _prove(self) -> TokenState:
        self._state = None  # if anything below fails, the next caller starts over with a new prove
        asked_at = self._clock()
        try:
            prove: m.ProveResponse = PROVE.parse(self._fetch(_PROVE_CALL, None))
        except NepseInvalidResponseError as exc:  # not JSON, or not the prove shape
            raise NepseHandshakeError(exc.message, endpoint=PROVE.name, status=exc.status) from None
        try:
            for salt in prove.salts:  # all five sign payload ids later: reject a bad one now
                validate_salt(salt)
        except NepseInputError as exc:
            raise NepseHandshakeError(f"prove: unusable answer: {exc.message}", endpoint=PROVE.name) from None
        spec = self._site.decoder()
        try:
            self._state = self._read_prove(prove, spec, asked_at)
        except (NepseAuthError, NepseHandshakeError):  # the site refused the token as read: has its module changed?
            healed = self._site.heal_decoder(spec)
            if healed == spec:
                raise
            self._decoder_heals += 1
            self._state = self._read_prove(prove, healed, asked_at, again=True)
        return self._state

    def _read_prove(
        self, prove: m.ProveResponse, spec: DecoderSpec, asked_at: float, again: bool = False
    ) -> TokenState:
        """The session of ``prove`` de-obfuscated with ``spec``'s decoder, its market status fetched with it."""
        decoder = decoder_for(spec)
        try:
            access_token = strip(decoder, prove.access_token, prove.salts[1])
            refresh_token = strip(decoder, prove.refresh_token, prove.salts[0])
        except NepseInputError as exc:
            raise NepseHandshakeError(
                f"prove: unusable answer for the {decoder.name} token decoder: {exc.message}", endpoint=PROVE.name
            ) from None
        # Checked now, so a token no request could carry is never cached for max_token_age.
        require_sendable_headers(f"{PROVE.method} {PROVE.path}", {"Authorization": access_token})
        if not again:
            self._proves += 1
        market, market_date = self._fetch_market(access_token)
        self._decoder_name = decoder.name
        return TokenState(access_token, refresh_token, prove.salts, market, market_date, asked_at)

    def _refresh_market(self, state: TokenState) -> TokenState:
        self._state = None  # as in _prove: a failure here means a fresh start next time
        market, market_date = self._fetch_market(state.access_token)
        self._state = dataclasses.replace(state, market=market, market_date=market_date)
        return self._state

    def _fetch_market(self, access_token: str) -> tuple[m.MarketOpen, dt.date]:
        date = self._today()
        market: m.MarketOpen = _MARKET_OPEN_CALL.endpoint.parse(self._fetch(_MARKET_OPEN_CALL, access_token))
        try:
            validate_market_id(market.id)
        except NepseInputError:
            raise NepseInvalidResponseError(
                f"market_open: market id {market.id} is outside 0..99, so no payload id can be computed",
                endpoint="market_open",
            ) from None
        return market, date

    # -- the session methods (endpoints.SESSION_METHODS): the client answers them from here ---------------

    def get_access_token(self) -> str:
        return self.session().access_token

    def get_salts(self) -> Salts:
        return self.session().salts

    def get_market_id(self) -> int:
        return self.session().market_id

    def get_market_status(self) -> m.MarketOpen:
        """A copy of the ``market-open`` answer fetched with the current token."""
        return self.session().market.model_copy()

    def get_post_payload_id(self) -> int:
        """The GENERAL payload id (index graphs) for the current token."""
        return self.payload_id(PayloadVariant.GENERAL, self.session())

    def get_post_payload_id_for_floor_sheet(self) -> int:
        """The FLOORSHEET payload id for the current token."""
        return self.payload_id(PayloadVariant.FLOORSHEET, self.session())

    def get_security_brief(self) -> list[m.SecurityBrief]:
        """Every non-delisted security (id, symbol, name), cached for ``brief_ttl`` seconds."""
        return list(self._security_brief().briefs)

    def get_security_symbol_id_map(self) -> dict[str, int]:
        """Symbol -> security id for every non-delisted security, cached with the brief."""
        return dict(self._security_brief().id_by_symbol)

    def _security_brief(self) -> _SecurityBrief:
        with self._brief_lock:
            cached = self._brief
            if cached is not None and self._clock() - cached.fetched_at < self._brief_ttl:
                return cached
            fetched_at = self._clock()
            data = self.authorised(lambda state: self._fetch(_SECURITY_LIST_CALL, state.access_token))
            briefs: list[m.SecurityBrief] = _SECURITY_LIST_CALL.endpoint.parse(data)
            brief = _SecurityBrief(tuple(briefs), MappingProxyType({b.symbol: b.id for b in briefs}), fetched_at)
            if briefs:  # an empty list is a glitch, not a market without securities: do not keep it for an hour
                self._brief = brief
            return brief

    def __repr__(self) -> str:
        state = self._state  # no lock: a repr must not wait for a prove in flight
        age = "none" if state is None else f"{self._clock() - state.issued_at:.1f}s old"
        return f"TokenManager(token={age}, proves={self._proves})"


def _refused_again(exc: NepseAuthError | NepseForbiddenError) -> NepseError:
    """The error for a 401 or 403 that came back even with a freshly proved token (neither is retried again)."""
    if isinstance(exc, NepseAuthError):
        return NepseAuthError(
            f"{exc.endpoint}: HTTP 401 again with a freshly proved token; the server refuses this client's "
            "tokens (check base_url and the User-Agent/Referer headers)",
            endpoint=exc.endpoint,
            status=exc.status,
        )
    return NepseForbiddenError(
        f"{exc.endpoint}: HTTP 403 again with a freshly proved token; the site is refusing this client. "
        "Slow down (rate_per_token), check the User-Agent/Referer headers, and try again later",
        endpoint=exc.endpoint,
        status=exc.status,
    )
