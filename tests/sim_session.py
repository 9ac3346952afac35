"""A raw HTTP session against the simulator, written from the protocol as the site speaks it (not through NepseClient).

It proves, strips the access token with salt2, and calls catalogue endpoints with the signed body computed from
the salts of the token it holds, so the simulator's tests depend only on ``tokens``, ``payload`` and the
catalogue's paths.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

from nepse_ray.nepse.endpoints import CATALOGUE, prepare
from nepse_ray.nepse.payload import VARIANT_BY_ENDPOINT, PayloadVariant, payload_id
from nepse_ray.nepse.tokens import strip_junk
from nepse_ray.sim import Simulator

#: A Thursday (a trading day). With day_source="asof", payload ids depend on its day, not on today.
BUSINESS_DATE = dt.date(2025, 10, 30)

#: A quick, limit-free simulator whose payload ids use the asOf day (so no test depends on the date).
QUICK: dict[str, Any] = {
    "trades": 5_000,
    "business_date": BUSINESS_DATE,
    "day_source": "asof",
    "rate_limit": None,
    "seed": 11,
}


class SimSession:
    def __init__(self, target: Simulator | str, *, referer: bool = True, timeout: float = 10.0) -> None:
        self.base_url = target if isinstance(target, str) else target.base_url
        self.http = requests.Session()
        self.timeout = timeout
        if referer:
            self.http.headers["Referer"] = self.base_url + "/"
        self.prove_body: dict[str, Any] = {}

    def prove(self) -> dict[str, Any]:
        response = self.http.get(self.base_url + "/api/authenticate/prove", timeout=self.timeout)
        response.raise_for_status()
        self.prove_body = response.json()
        self.http.headers["Authorization"] = "Salter " + self.access_token
        return self.prove_body

    @property
    def salts(self) -> tuple[int, int, int, int, int]:
        b = self.prove_body
        return (b["salt1"], b["salt2"], b["salt3"], b["salt4"], b["salt5"])

    @property
    def access_token(self) -> str:
        return strip_junk(self.prove_body["accessToken"], self.prove_body["salt2"])

    def payload_id(self, variant: PayloadVariant, day: int, market_id: int = 80) -> int:
        return payload_id(variant, market_id=market_id, day=day, salts=self.salts)

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(self.base_url + path, params=params, timeout=self.timeout)

    def post(self, path: str, body: Any, **params: Any) -> requests.Response:
        return self.http.post(self.base_url + path, params=params, json=body, timeout=self.timeout)

    def call(
        self,
        name: str,
        *,
        day: int = BUSINESS_DATE.day,
        variant: PayloadVariant | None = None,
        **params: Any,
    ) -> requests.Response:
        """Call a catalogue endpoint; signed ones get the id of ``variant`` (default: the endpoint's)."""
        call = prepare(name, params)
        url = self.base_url + call.path
        if call.endpoint.method == "GET":
            return self.http.get(url, params=call.query, timeout=self.timeout)
        chosen = variant or VARIANT_BY_ENDPOINT[name]
        body = {"id": self.payload_id(chosen, day)}
        return self.http.post(url, params=call.query, json=body, timeout=self.timeout)


class TruthSession(SimSession):
    """A session that reads the simulator's answers without waiting on its per-token limit: it takes a fresh token
    before the current one's burst is spent (the handshake is not limited), so it can read the ground truth of
    many endpoints quickly from a simulator running its default limits."""

    def __init__(self, target: Simulator | str, *, calls_per_token: int = 8, **kwargs: Any) -> None:
        super().__init__(target, **kwargs)
        self._calls_per_token = calls_per_token
        self._calls = calls_per_token

    def _next(self) -> None:
        if self._calls >= self._calls_per_token:
            self.prove()
            self._calls = 0
        self._calls += 1

    def get(self, path: str, **params: Any) -> requests.Response:
        self._next()
        return super().get(path, **params)

    def post(self, path: str, body: Any, **params: Any) -> requests.Response:
        self._next()
        return super().post(path, body, **params)

    def call(self, name: str, **kwargs: Any) -> requests.Response:
        self._next()
        return super().call(name, **kwargs)


def proved(target: Simulator | str, **kwargs: Any) -> SimSession:
    session = SimSession(target, **kwargs)
    session.prove()
    return session


def sample_params(name: str, security_id: int) -> dict[str, Any]:
    """Arguments that make catalogue endpoint ``name`` answer with data on a QUICK-style simulator."""
    params: dict[str, Any] = {}
    for param in CATALOGUE[name].params:
        if param.name == "security_id":
            params["security_id"] = security_id
        elif param.name == "index_id":
            params["index_id"] = 58
        elif param.name == "business_date" and param.required:
            params["business_date"] = BUSINESS_DATE
    return params
