"""Signed requests and the payload ids that heal themselves.

A signed endpoint's body ``{"id": N}`` follows a :class:`~nepse_ray.nepse.payload.PayloadRule`: the rule another
client of the same :class:`~nepse_ray.nepse.site.SiteMemory` found for the endpoint, else nepse-ray's own (its
variant, then its fallback variant). The site answers a wrong id with ``200 []``; when every known rule gets that,
:meth:`SignedCalls.answer` asks the memory for a search and, if granted, tries every other rule once each
(:func:`~nepse_ray.nepse.payload.heal_candidates`; rules that give the same id as one already sent are skipped),
keeps the first that answers, and reports it. A rule found by another client is tried once; a search that found
nothing, or one in progress elsewhere, ends in :class:`~nepse_ray.nepse.errors.NepseEmptyPageError` (retryable:
on a later retry the rule is known).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from .auth import TokenManager, TokenState
from .endpoints import PreparedCall
from .errors import NepseEmptyPageError, NepseInputError
from .payload import PayloadRule, default_rules, heal_candidates
from .site import Site
from .transport import RawResponse

#: Sends a call signed by a rule and returns the raw answer (the client's rate limiter, tokens and errors).
Send = Callable[[PayloadRule], RawResponse]


def is_empty_list(body: bytes) -> bool:
    """Whether ``body`` is the JSON ``[]`` (the site's answer to a wrong payload id), without decoding it."""
    stripped = body.strip()
    return stripped[:1] == b"[" and stripped[1:].strip() == b"]"


class SignedCalls:
    """The rules of a client's signed calls; ``count(name)`` adds one to the client's counter ``name``."""

    __slots__ = ("_count", "_site", "_tokens")

    def __init__(self, site: Site, tokens: TokenManager, count: Callable[[str], None]) -> None:
        self._site, self._tokens, self._count = site, tokens, count

    def known_rules(self, endpoint: str) -> tuple[PayloadRule, ...]:
        """The rules tried first: the one found for ``endpoint`` (if any), then nepse-ray's own."""
        found = self._site.payload_rule(endpoint)
        own = default_rules(endpoint)
        return own if found is None else (found, *(rule for rule in own if rule != found))

    def payload_id(self, rule: PayloadRule, state: TokenState, call: PreparedCall) -> int | None:
        """The id ``rule`` gives with ``state``'s salts; ``None`` when its day term does not apply to ``call``."""
        day = self._day(rule, state, call)
        return None if day is None else self._tokens.payload_id(rule.variant, state, day=day)

    def answer(self, call: PreparedCall, send: Send, empty_refused: bool) -> RawResponse:
        """The first answer that is not ``200 []`` (if ``empty_refused``: an empty list cannot be this endpoint's
        answer), through the known rules, a rule found elsewhere, or a search; else :class:`NepseEmptyPageError`."""
        known = self.known_rules(call.endpoint.name)
        for number, rule in enumerate(known):
            if number:
                self._count("empty_page_fallbacks")
            raw = send(rule)
            if not (empty_refused and is_empty_list(raw.body)):
                return raw
        raw_found = self._heal(call, known, send)
        if raw_found is not None:
            return raw_found
        self._count("empty_pages")
        tried = "every payload rule it knows" if len(known) > 1 else "its payload variant"
        raise NepseEmptyPageError(
            f"{call.endpoint.name}: the server answered 200 [] with {tried}; a stale payload id or a page lost under "
            "load, usually fine on a later retry (nepse-ray doctor names a payload id the site changed)",
            endpoint=call.endpoint.name,
            status=200,
        )

    def _heal(self, call: PreparedCall, known: tuple[PayloadRule, ...], send: Send) -> RawResponse | None:
        name = call.endpoint.name
        claim = self._site.claim_search(name)
        if claim.verdict == "use" and claim.rule is not None and claim.rule not in known:
            raw = send(claim.rule)
            return None if is_empty_list(raw.body) else raw
        if claim.verdict != "search":
            return None
        found, sent = None, 0
        try:
            for rule in self._distinct(call, known):
                sent += 1
                self._count("payload_heal_requests")
                raw = send(rule)
                if not is_empty_list(raw.body):
                    found = rule
                    return raw
        finally:
            self._site.report_search(name, found, sent)
        return None

    def _distinct(self, call: PreparedCall, known: tuple[PayloadRule, ...]) -> list[PayloadRule]:
        """The candidates whose id (with the current token) differs from every id already sent or queued."""
        state = self._tokens.session()
        seen = {self.payload_id(rule, state, call) for rule in known}
        out = []
        for rule in heal_candidates(call.endpoint.name, known):
            identity = self.payload_id(rule, state, call)
            if identity is not None and identity not in seen:
                seen.add(identity)
                out.append(rule)
        return out

    def _day(self, rule: PayloadRule, state: TokenState, call: PreparedCall) -> int | None:
        if rule.day_term == "nepal-today":
            return self._tokens.day()
        if rule.day_term == "as-of":
            return state.market.as_of.day
        asked = dict(call.query).get("businessDate")
        try:
            return None if asked is None else dt.date.fromisoformat(asked).day
        except ValueError:
            raise NepseInputError(f"{call.endpoint.name}: businessDate {asked!r} is not a date") from None
