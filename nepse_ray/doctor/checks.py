"""The doctor's checks: each a small function of the :class:`~nepse_ray.doctor.session.Session` that returns a
:class:`~nepse_ray.doctor.report.Check` (the endpoint checks one per endpoint). They never raise for what the site
does: a failure is a ``broken`` check that says what happened and what to do. Details name fields, variants, day
terms and hashes of public files, never a token, a salt or a payload id.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import json
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import certifi

from ..nepse.aia import probe_leaf
from ..nepse.auth import PROVE
from ..nepse.decoder import KNOWN_MODULES, module_sha256
from ..nepse.drift import drift
from ..nepse.endpoints import CATALOGUE, Endpoint, PreparedCall, prepare
from ..nepse.errors import (
    NepseCertificateError,
    NepseClientRequestError,
    NepseDecoderError,
    NepseEmptyPageError,
    NepseError,
    NepseForbiddenError,
    NepseInvalidResponseError,
)
from ..nepse.payload import NEPAL_TZ, VARIANT_BY_ENDPOINT, PayloadRule, PayloadVariant, nepal_today
from .report import Check
from .session import Session

#: A clock further off than this (seconds) is ``changed``: token ages and payload days go wrong with it.
MAX_SKEW = 30.0
#: Days before the site's certificate expires from which the ``tls`` check warns.
EXPIRY_WARNING_DAYS = 14
_REPORT = "if it persists, run nepse-ray doctor --json and attach its output to a bug report"

Checker = Callable[[Session], Check]

#: Endpoints the site refuses to every client, with what to use instead: their HTTP 403 is the site as nepse-ray
#: knows it, not a break. The per-company floorsheet has answered nginx's 403 page since 2026-05 (other clients'
#: reports; the simulator does the same unless told otherwise).
REFUSED_BY_THE_SITE = {
    "security_floorsheet": "floorsheet(business_date=..., stock_id=...) gives a security's trades of a day",
}


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


# -- tls --------------------------------------------------------------------------------------------------------


def check_tls(session: Session) -> Check:
    """Chain complete, repaired (nepse-ray completes what the site leaves out) or broken; days until expiry."""
    parts = urlsplit(session.base_url)
    if parts.scheme == "http":
        return Check(name="tls", status="ok", detail="plain HTTP to this machine (the simulator): no TLS to check")
    if not session.verify:
        return Check(
            name="tls",
            status="changed",
            detail="verification is off (verify=False)",
            advice="drop verify=False: nepse-ray verifies nepalstock.com as it is",
        )
    host, port = parts.hostname or "", parts.port or 443
    try:
        session.module = session.client.fetch_token_module()
    except NepseCertificateError as error:
        return Check(
            name="tls",
            status="broken",
            detail=_first_line(error),
            advice="pass ca_bundle= with the site's chain, or report it",
        )
    except NepseError:
        pass  # the token-decoder check fetches it again and names that failure
    try:
        leaf = probe_leaf(host, port, timeout=10.0)
        complete = _verifies(host, port, session.ca_bundle or certifi.where())
    except OSError as error:
        return Check(
            name="tls",
            status="broken",
            detail=f"no TLS handshake with {host}:{port}: {error}",
            advice="check the address and the network",
        )
    days = (leaf.not_valid_after_utc - dt.datetime.now(dt.timezone.utc)).days
    chain = "complete" if complete else "repaired (the site leaves out an intermediate; nepse-ray supplies it)"
    if days < EXPIRY_WARNING_DAYS:
        return Check(
            name="tls",
            status="changed",
            detail=f"chain {chain}; the certificate expires in {days} days",
            advice="expect failures once it expires unless the site renews it",
        )
    return Check(name="tls", status="ok", detail=f"chain {chain}; the certificate expires in {days} days")


def _verifies(host: str, port: int, roots: str) -> bool:
    """Whether the chain the server sends verifies to ``roots`` alone (no intermediate supplied)."""
    context = ssl.create_default_context(cafile=roots)
    try:
        with (
            socket.create_connection((host, port), timeout=10.0) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except ssl.SSLCertVerificationError:
        return False


# -- handshake and clock ----------------------------------------------------------------------------------------


def check_handshake(session: Session) -> Check:
    """``/api/authenticate/prove`` reachable, and its fields the ones nepse-ray knows."""
    sent = time.time()
    try:
        raw = session.client.send_unauthenticated(PreparedCall(PROVE, PROVE.path, ()))
    except NepseError as error:
        return Check(
            name="handshake",
            status="broken",
            detail=f"prove unreachable: {_first_line(error)}",
            advice="check base_url and the network; " + _REPORT,
        )
    received = time.time()
    if raw.status != 200:
        return Check(
            name="handshake",
            status="broken",
            detail=f"prove answered HTTP {raw.status}",
            advice="check base_url (the site may have moved) and the User-Agent/Referer headers",
        )
    try:
        body = json.loads(raw.body)
    except ValueError:
        return Check(
            name="handshake", status="broken", detail="prove answered something that is not JSON", advice=_REPORT
        )
    session.date_header = raw.header("Date")
    server_time = body.get("serverTime") if isinstance(body, dict) else None
    if isinstance(server_time, int) and not isinstance(server_time, bool):
        session.prove_timing = (sent, received, server_time / 1000)
    found = drift(PROVE, body)
    if found.missing_required or found.retyped:
        fields = ", ".join(found.missing_required + found.retyped)
        return Check(
            name="handshake",
            status="broken",
            detail=f"prove's fields changed: {fields}",
            advice="nepse-ray cannot read tokens from it; " + _REPORT,
        )
    if found.unknown or found.missing_optional:
        new = f"new fields {', '.join(found.unknown)}" if found.unknown else ""
        gone = f"fields gone: {', '.join(found.missing_optional)}" if found.missing_optional else ""
        return Check(
            name="handshake",
            status="changed",
            detail="prove answers; " + "; ".join(filter(None, (new, gone))),
            advice="nothing to do: the token fields are as known",
        )
    return Check(name="handshake", status="ok", detail="prove answers with the fields nepse-ray knows")


def check_clock(session: Session) -> Check:
    """The local clock against the server's (prove's serverTime, else the Date header); the Nepal date ids use."""
    today = nepal_today()
    signing = f"Nepal date {today.isoformat()} (payload ids are signed with day {today.day})"
    skew = None
    if session.prove_timing is not None:
        sent, received, server = session.prove_timing
        skew = (sent + received) / 2 - server
    elif session.date_header:
        try:
            skew = time.time() - email.utils.parsedate_to_datetime(session.date_header).timestamp()
        except (TypeError, ValueError):
            skew = None
    if skew is None:
        return Check(
            name="clock",
            status="changed",
            detail=f"the server told no time; {signing}",
            advice="check this machine's clock against an NTP server",
        )
    side = "ahead of" if skew > 0 else "behind"
    detail = f"local clock {abs(skew):.1f} s {side} the server; {signing}"
    if abs(skew) > MAX_SKEW:
        return Check(
            name="clock",
            status="changed",
            detail=detail,
            advice="synchronise this machine's clock (NTP): payload days and token ages depend on it",
        )
    return Check(name="clock", status="ok", detail=detail)


# -- the token decoder --------------------------------------------------------------------------------------------


def check_token_decoder(session: Session) -> Check:
    """The served css.wasm against the known one, the decoder it needs, proven by an authenticated call."""
    try:
        module = session.module if session.module is not None else session.client.fetch_token_module()
    except NepseError as error:
        return Check(
            name="token-decoder", status="broken", detail=f"css.wasm unreachable: {_first_line(error)}", advice=_REPORT
        )
    sha = module_sha256(module)
    session.module = module
    try:
        spec = session.memory.refresh()
        status = session.client.market_open()
    except NepseDecoderError as error:
        return Check(
            name="token-decoder",
            status="broken",
            detail=_first_line(error),
            advice="nepse-ray cannot read the site's tokens until it is updated; " + _REPORT,
        )
    except NepseError as error:
        return Check(
            name="token-decoder",
            status="broken",
            detail=f"css.wasm {sha[:12]}…, decoder {session.memory.decoder().name}; a token read with it was "
            f"refused: {_first_line(error)}",
            advice=_REPORT,
        )
    session.business_date = status.as_of.astimezone(NEPAL_TZ).date() if status.as_of.tzinfo else status.as_of.date()
    if sha in KNOWN_MODULES:
        return Check(
            name="token-decoder",
            status="ok",
            detail=f"css.wasm {sha[:12]}… is {KNOWN_MODULES[sha]}; decoder builtin, token accepted",
        )
    how = {"site-table": "its new table is read from the module", "site-module": "its new code is run"}
    return Check(
        name="token-decoder",
        status="changed",
        detail=f"css.wasm changed ({len(module)} bytes, SHA-256 {sha[:12]}…): {how.get(spec.name, spec.name)};"
        f" decoder {spec.name}, token accepted",
        advice="nothing to do: nepse-ray heals this by itself; report it so the built-in decoder follows",
    )


# -- endpoints and payload ids ------------------------------------------------------------------------------------


def endpoint_check(name: str, params: dict[str, object]) -> Checker:
    """The check ``endpoint:<name>``: the answer to one call, strictly against the endpoint's model."""

    def check(session: Session) -> Check:
        label = f"endpoint:{name}"
        try:
            body = session.client.fetch(name, params, lambda endpoint, raw: raw.body)
        except NepseClientRequestError as error:
            if error.status == 405:
                session.outcomes[name] = "method"
                return _moved_to_post(session, name, params)
            session.outcomes[name] = "error"
            return Check(name=label, status="broken", detail=_first_line(error), advice=_REPORT)
        except NepseEmptyPageError:
            session.outcomes[name] = "empty"
            return Check(
                name=label,
                status="broken",
                detail="200 [] with every payload rule nepse-ray could try",
                advice="the site signs this endpoint some new way; " + _REPORT,
            )
        except NepseInvalidResponseError as error:
            session.outcomes[name] = "invalid"
            return Check(name=label, status="broken", detail=_first_line(error), advice=_REPORT)
        except NepseError as error:
            if isinstance(error, NepseForbiddenError) and name in REFUSED_BY_THE_SITE:
                session.outcomes[name] = "refused"
                return Check(
                    name=label,
                    status="ok",
                    detail="HTTP 403, as the site answers this endpoint to every client",
                    advice=REFUSED_BY_THE_SITE[name],
                )
            session.outcomes[name] = "error"
            return Check(name=label, status="broken", detail=_first_line(error), advice="try again later; " + _REPORT)
        session.outcomes[name] = "ok"
        return _fields_check(session, name, body)

    return check


def _fields_check(session: Session, name: str, body: bytes) -> Check:
    label = f"endpoint:{name}"
    payload = json.loads(body)
    if name == "security_list" and isinstance(payload, list) and payload and isinstance(payload[0], dict):
        session.security_id = payload[0].get("id") if isinstance(payload[0].get("id"), int) else None
    found = drift(CATALOGUE[name], payload)
    parts = []
    if found.missing_required:
        parts.append(f"required field(s) missing: {', '.join(found.missing_required)}")
    if found.retyped:
        parts.append(f"field(s) of another type: {', '.join(found.retyped)}")
    if found.missing_optional:
        parts.append(f"field(s) gone: {', '.join(found.missing_optional)}")
    if found.unknown:
        parts.append(f"new field(s): {', '.join(found.unknown)}")
    detail = "; ".join(parts)
    if found.missing_required or found.retyped:
        return Check(
            name=label,
            status="broken",
            detail=detail,
            advice="calls of this endpoint fail (NepseSchemaError) until nepse-ray follows; " + _REPORT,
        )
    if parts:
        return Check(
            name=label,
            status="changed",
            detail=detail,
            advice="the missing fields read as null; report it so the model follows",
        )
    return Check(name=label, status="ok", detail="answers with the fields nepse-ray knows")


def _moved_to_post(session: Session, name: str, params: dict[str, object]) -> Check:
    """A GET answered 405: does a signed POST work instead? (one request per distinct variant at most)"""
    call = prepare(name, params)
    post = PreparedCall(_as_post(call), call.path, call.query)
    for variant in PayloadVariant:
        try:
            raw = session.client.send_signed(post, PayloadRule(variant))
        except NepseError:
            continue
        if raw.body.strip() not in (b"", b"[]"):
            return Check(
                name=f"endpoint:{name}",
                status="broken",
                detail=f"GET answers 405; a POST signed with the {variant.value} variant answers: the site "
                "moved it from GET to a signed POST",
                advice="nepse-ray cannot call it until its catalogue follows; " + _REPORT,
            )
    return Check(
        name=f"endpoint:{name}",
        status="broken",
        detail="GET answers 405 Method Not Allowed, and no signed POST answers either",
        advice=_REPORT,
    )


def _as_post(call: PreparedCall) -> Endpoint:
    return dataclasses.replace(call.endpoint, method="POST")


def check_payload_ids(session: Session) -> Check:
    """For each signed endpoint called: the rule the site accepted (nepse-ray's own, or one it healed to)."""
    healed = session.memory.status().healed
    called = [name for name in VARIANT_BY_ENDPOINT if name in session.outcomes]
    lines, status = [], "ok"
    for name in called:
        if name in healed:
            lines.append(f"{name}: healed to {healed[name].describe()}")
            status = "changed" if status == "ok" else status
        elif session.outcomes[name] == "empty":
            lines.append(f"{name}: no rule accepted")
            status = "broken"
        elif session.outcomes[name] == "ok":
            lines.append(f"{name}: as known")
    if not lines:
        return Check(name="payload-ids", status="ok", detail="no signed endpoint was called")
    advice = {
        "ok": "",
        "changed": "nothing to do: nepse-ray keeps the healed rule for the pool's life; report it",
        "broken": "the site signs some endpoint in a way nepse-ray does not know; " + _REPORT,
    }[status]
    return Check(name="payload-ids", status=status, detail="; ".join(lines), advice=advice)  # type: ignore[arg-type]
