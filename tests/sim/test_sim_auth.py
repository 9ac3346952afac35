"""The handshake: /prove, obfuscated tokens, Salter authorisation, expiry, forgery and the Referer rule."""

from __future__ import annotations

import base64
import random

import pytest
import requests
from sim_session import QUICK, SimSession, proved

from nepse_ray.nepse.models import ProveResponse
from nepse_ray.nepse.tokens import junk_positions, strip_junk
from nepse_ray.sim import Simulator
from nepse_ray.sim.auth import TokenIssuer, TokenRejected

MARKET_OPEN = "/api/nots/nepse-data/market-open"


def test_prove_has_the_sites_shape(sim: Simulator) -> None:
    body = SimSession(sim).prove()
    parsed = ProveResponse.model_validate(body)
    assert all(10_000 <= s <= 99_999 for s in parsed.salts)
    assert isinstance(body["serverTime"], int) and body["serverTime"] > 1_600_000_000_000
    assert isinstance(body["salt"], str) and len(body["salt"]) == 20
    assert body["isDisplayActive"] is False and body["popupDocFor"] == "" and body["tokenType"] == ""
    for token, salt in ((body["accessToken"], parsed.salt2), (body["refreshToken"], parsed.salt1)):
        stripped = strip_junk(token, salt)
        assert len(stripped) >= 124 and len(token) == len(stripped) + 5
        assert max(junk_positions(salt)) < len(token)


def test_the_stripped_access_token_is_accepted_and_the_raw_one_refused(sim: Simulator) -> None:
    session = proved(sim)
    assert session.get(MARKET_OPEN).status_code == 200
    raw = session.http.get(
        sim.base_url + MARKET_OPEN, headers={"Authorization": "Salter " + session.prove_body["accessToken"]}
    )
    assert raw.status_code == 401
    assert raw.json()["status"] == 401


def test_the_refresh_token_and_a_wrongly_stripped_token_are_refused(sim: Simulator) -> None:
    session = proved(sim)
    body = session.prove_body
    for token in (strip_junk(body["refreshToken"], body["salt1"]), strip_junk(body["accessToken"], body["salt1"] + 1)):
        response = session.http.get(sim.base_url + MARKET_OPEN, headers={"Authorization": "Salter " + token})
        assert response.status_code == 401


def test_missing_or_badly_formed_authorization_is_401(sim: Simulator) -> None:
    session = proved(sim)
    token = session.access_token
    for header in (None, "", "Salter", "Bearer " + token, "salter " + token):
        headers = {} if header is None else {"Authorization": header}
        response = requests.get(sim.base_url + MARKET_OPEN, headers={"Referer": "x", **headers}, timeout=10)
        assert response.status_code == 401, header


def test_a_forged_token_is_401(sim: Simulator) -> None:
    session = proved(sim)
    claims, _, signature = session.access_token.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    raw[0] ^= 1  # another token id, same signature
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode() + "." + signature
    response = session.http.get(sim.base_url + MARKET_OPEN, headers={"Authorization": "Salter " + forged})
    assert response.status_code == 401
    assert sim.stats()["auth_failures"].get("forged", 0) >= 1


def test_a_token_from_another_server_is_401(sim: Simulator) -> None:
    with Simulator(**QUICK) as other:
        foreign = proved(other).access_token
    response = requests.get(
        sim.base_url + MARKET_OPEN, headers={"Referer": "x", "Authorization": "Salter " + foreign}, timeout=10
    )
    assert response.status_code == 401


def test_tokens_expire_after_their_ttl() -> None:
    with Simulator(**QUICK, token_ttl=60) as sim:
        session = proved(sim)
        sim.configure(clock_offset=59)
        assert session.get(MARKET_OPEN).status_code == 200
        sim.configure(clock_offset=61)
        assert session.get(MARKET_OPEN).status_code == 401
        assert sim.stats()["auth_failures"] == {"expired": 1}
        assert proved(sim).get(MARKET_OPEN).status_code == 200  # a fresh prove works at the new time


def test_referer_is_not_required_by_default(sim: Simulator) -> None:
    """A client whose docstrings record checks against the live site in 2026 sends none, and is served."""
    assert proved(sim, referer=False).get(MARKET_OPEN).status_code == 200


def test_referer_can_be_required() -> None:
    with Simulator(**QUICK, require_referer=True) as sim:
        session = SimSession(sim, referer=False)
        response = session.http.get(sim.base_url + "/api/authenticate/prove")
        assert response.status_code == 403
        assert "Referer" in response.json()["message"]
        token = proved(sim).access_token
        response = session.http.get(sim.base_url + MARKET_OPEN, headers={"Authorization": "Salter " + token})
        assert response.status_code == 403


def test_refresh_token_endpoint_is_unsupported(sim: Simulator) -> None:
    session = proved(sim)
    response = session.post("/api/authenticate/refresh-token", {"refreshToken": "whatever"})
    assert response.status_code == 401


def test_same_seed_gives_the_same_salts_sequence() -> None:
    def salts(seed: int) -> list[tuple[int, ...]]:
        with Simulator(**{**QUICK, "seed": seed}) as sim:
            return [proved(sim).salts for _ in range(3)]

    assert salts(5) == salts(5)
    assert salts(5) != salts(6)


def test_issuer_unit_rules() -> None:
    issuer = TokenIssuer(secret=b"s" * 32, rng=random.Random(0))
    grant = issuer.issue(now=100.0, ttl=60.0, refresh_ttl=3600.0)
    token = strip_junk(grant.access_token, grant.record.salts[1])
    assert issuer.verify(token, now=159.9) is grant.record
    with pytest.raises(TokenRejected, match="expired"):
        issuer.verify(token, now=160.0)
    issuer.revoke(grant.record)
    with pytest.raises(TokenRejected, match="revoked"):
        issuer.verify(token, now=120.0)
    refresh = strip_junk(grant.refresh_token, grant.record.salts[0])
    with pytest.raises(TokenRejected, match="unknown"):
        issuer.verify(refresh, now=120.0)
    issuer.forget_expired(now=1000.0)
    with pytest.raises(TokenRejected, match="unknown"):
        issuer.verify(token, now=120.0)


def test_stats_never_show_tokens_or_salts(sim: Simulator) -> None:
    session = proved(sim)
    session.get(MARKET_OPEN)
    text = requests.get(sim.base_url + "/_sim/stats", timeout=10).text
    body = session.prove_body
    for secret in (body["accessToken"], body["refreshToken"], session.access_token, *map(str, session.salts)):
        assert secret not in text
