"""Token issuing and verification for the simulator's handshake.

A token is opaque to clients: ``base64url(claims) + "." + base64url(HMAC-SHA256(secret, claims))`` where the
claims pack the token id, issue and expiry times (ms), the five salts and a random nonce that pads the token to
130 characters (the site's tokens are long enough for every junk position, at least 124). The issuer keeps each
token's record (salts, label) by id, because signed bodies must be checked against the salts of the token
presented. ``/prove`` hands out both tokens with five filler characters inserted
(:func:`~nepse_ray.nepse.tokens.insert_junk`): the access token keyed by salt2, the refresh token by salt1.

>>> from nepse_ray.nepse.tokens import strip_junk
>>> issuer = TokenIssuer(secret=b"k" * 32, rng=random.Random(1))
>>> grant = issuer.issue(now=1000.0, ttl=60.0, refresh_ttl=3600.0)
>>> issuer.verify(strip_junk(grant.access_token, grant.record.salts[1]), now=1030.0).label
't0001'
>>> issuer.verify(grant.access_token, now=1030.0)
Traceback (most recent call last):
...
nepse_ray.sim.auth.TokenRejected: malformed
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import hashlib
import hmac
import random
import string
import struct

from ..nepse.tokens import BUILTIN_SCHEME, JunkScheme, insert_junk

Salts = tuple[int, int, int, int, int]

_CLAIMS = struct.Struct("<IBqq5I24s")  # id, kind, issued ms, expires ms, salts, nonce: 64 bytes -> 86 chars
_ACCESS, _REFRESH = 0, 1
_SIGNATURE_CHARS = 43  # base64url of 32 bytes, unpadded
_FILLERS = string.ascii_letters + string.digits + "-_"
_SALT_TEXT = string.ascii_letters + string.digits + string.punctuation.replace('"', "").replace("\\", "")
#: Grants remembered for :meth:`TokenIssuer.grants` (tests that check no secret leaked): the most recent ones.
KEPT_GRANTS = 10_000


class TokenRejected(Exception):
    """Why a presented token is refused: "malformed", "forged", "unknown", "expired" or "revoked"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(slots=True)
class TokenRecord:
    """What the server remembers about one prove: never shown to anyone but the handlers."""

    token_id: int
    label: str  # "t0001": the only name a token has in stats
    salts: Salts
    expires_at: float
    revoked: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Grant:
    """One ``/prove`` answer: the obfuscated tokens and the record behind them."""

    access_token: str
    refresh_token: str
    salt_text: str
    record: TokenRecord


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenIssuer:
    """Issues and verifies tokens; ``rng`` (seeded per server) draws the salts, fillers and salt text."""

    __slots__ = ("_grants", "_next_id", "_records", "_rng", "_secret")

    def __init__(self, secret: bytes, rng: random.Random) -> None:
        self._secret = secret
        self._rng = rng
        self._records: dict[int, TokenRecord] = {}
        self._grants: collections.deque[Grant] = collections.deque(maxlen=KEPT_GRANTS)
        self._next_id = 1

    @property
    def issued(self) -> int:
        return self._next_id - 1

    def issue(self, now: float, ttl: float, refresh_ttl: float, scheme: JunkScheme = BUILTIN_SCHEME) -> Grant:
        """A new grant whose tokens are obfuscated with ``scheme`` (the token module the site serves)."""
        rng = self._rng
        salts: Salts = (
            rng.randint(10_000, 99_999),
            rng.randint(10_000, 99_999),
            rng.randint(10_000, 99_999),
            rng.randint(10_000, 99_999),
            rng.randint(10_000, 99_999),
        )
        token_id = self._next_id
        self._next_id += 1
        record = TokenRecord(token_id, f"t{token_id:04d}", salts, expires_at=now + ttl)
        self._records[token_id] = record
        access = self._sign(_ACCESS, token_id, now, now + ttl, salts)
        refresh = self._sign(_REFRESH, token_id, now, now + refresh_ttl, salts)
        grant = Grant(
            access_token=insert_junk(access, salts[1], self._fillers(scheme), scheme),
            refresh_token=insert_junk(refresh, salts[0], self._fillers(scheme), scheme),
            salt_text="".join(rng.choice(_SALT_TEXT) for _ in range(20)),
            record=record,
        )
        self._grants.append(grant)
        return grant

    def grants(self) -> list[Grant]:
        """The last :data:`KEPT_GRANTS` grants, oldest first: what a test must never find in a client's output."""
        return list(self._grants)

    def verify(self, token: str, now: float) -> TokenRecord:
        """The record of a valid, unexpired access token, else raise :class:`TokenRejected`."""
        kind, token_id, expires_at = self._open(token)
        record = self._records.get(token_id)
        if kind != _ACCESS or record is None:
            raise TokenRejected("unknown")
        if record.revoked:
            raise TokenRejected("revoked")
        if now >= expires_at:
            raise TokenRejected("expired")
        return record

    def revoke(self, record: TokenRecord) -> None:
        """Expire a token early (the early-expiry fault)."""
        record.revoked = True

    def forget_expired(self, now: float) -> None:
        self._records = {k: r for k, r in self._records.items() if r.expires_at > now}

    def _sign(self, kind: int, token_id: int, issued: float, expires: float, salts: Salts) -> str:
        nonce = self._rng.getrandbits(192).to_bytes(24, "little")
        claims = _CLAIMS.pack(token_id, kind, int(issued * 1000), int(expires * 1000), *salts, nonce)
        return _b64(claims) + "." + _b64(hmac.digest(self._secret, claims, hashlib.sha256))

    def _open(self, token: str) -> tuple[int, int, float]:
        claims_text, dot, signature_text = token.partition(".")
        if not dot or len(signature_text) != _SIGNATURE_CHARS:
            raise TokenRejected("malformed")
        try:
            claims = _unb64(claims_text)
            signature = _unb64(signature_text)
        except (binascii.Error, ValueError):
            raise TokenRejected("malformed") from None
        if len(claims) != _CLAIMS.size:
            raise TokenRejected("malformed")
        if not hmac.compare_digest(signature, hmac.digest(self._secret, claims, hashlib.sha256)):
            raise TokenRejected("forged")
        token_id, kind, _issued_ms, expires_ms, *_rest = _CLAIMS.unpack(claims)
        return kind, token_id, expires_ms / 1000

    def _fillers(self, scheme: JunkScheme) -> list[str]:
        return [self._rng.choice(_FILLERS) for _ in scheme.formulas]
