"""NepseClient options: the path allowlist, base URL checks, TLS settings and option validation."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from client_rig import Rig
from nepse_fakes import PROVE_PATH, FakeNepse

from nepse_ray.nepse.client import NepseClient, normalise_base_url, require_allowed_path
from nepse_ray.nepse.endpoints import CATALOGUE, PreparedCall, prepare
from nepse_ray.nepse.errors import NepseInputError, NepsePathNotAllowedError

# -- paths, base URL, TLS and options -----------------------------------------------------------------


REQUIRED = {"security_id": 1, "index_id": 58, "business_date": "2025-01-01"}
CATALOGUE_PATHS = sorted(
    {prepare(name, {p.name: REQUIRED[p.name] for p in e.params if p.required}).path for name, e in CATALOGUE.items()}
)


@pytest.mark.parametrize(
    "path", [PROVE_PATH, "/api/authenticate/refresh-token", "/assets/prod/css.wasm", "/api/nots", *CATALOGUE_PATHS]
)
def test_allowed_paths(path: str) -> None:
    require_allowed_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/admin",
        "/api/notsx/summary",
        "/api/authenticatex",
        "/api/nots/../admin",
        "/api/nots/./x",
        "/api/nots/%2e%2e/admin",
        "/api/nots/x?y=1",
        "/api/nots/x#y",
        "/assets/prod/main.js",
        "/assets/prod/css.wasm/x",
        "api/nots/x",
        "//evil.example/api/nots/x",
        "/api/nots/\u0661",
    ],
)
def test_disallowed_paths(path: str) -> None:
    with pytest.raises(NepsePathNotAllowedError):
        require_allowed_path(path)


def test_client_refuses_a_path_outside_the_allowlist_before_sending(rig: Rig) -> None:
    endpoint = CATALOGUE["market_open"]
    with pytest.raises(NepsePathNotAllowedError):
        rig.client._exchange(PreparedCall(endpoint, "/api/admin/users", ()), None)
    assert rig.fake.sent == []
    assert rig.client.stats()["requests_sent"] == 0


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("https://www.nepalstock.com", "https://www.nepalstock.com"),
        ("https://www.nepalstock.com/", "https://www.nepalstock.com"),
        ("HTTPS://nepalstock.com.np", "https://nepalstock.com.np"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
    ],
)
def test_base_url_is_normalised(given: str, normalised: str) -> None:
    assert normalise_base_url(given) == normalised


@pytest.mark.parametrize(
    "given",
    [
        "www.nepalstock.com",
        "ftp://nepalstock.com",
        "https://",
        "https://nepalstock.com/api",
        "https://nepalstock.com?x=1",
        "https://nepalstock.com#top",
        "https://user:pw@nepalstock.com",
        "https://nepalstock.com:notaport",
        "https://[::1",
        "",
        None,
    ],
)
def test_bad_base_urls_are_rejected(given: object) -> None:
    with pytest.raises(NepseInputError, match="base_url must be"):
        NepseClient(given, transport=FakeNepse())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"rate": 0},
        {"burst": 0},
        {"connect_timeout": 0},
        {"read_timeout": -1},
        {"read_timeout": float("inf")},
        {"max_rate_limit_retries": -1},
        {"max_rate_limit_retries": 1.5},
        {"max_retry_after": -1},
        {"ca_bundle": "/nonexistent/ca.pem"},
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(NepseInputError):
        NepseClient(transport=FakeNepse(), **options)


def test_verify_false_warns_once_per_client(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="nepse_ray"):
        rig = Rig(verify=False)
        rig.client.market_summary()
        rig.client.market_summary()
    warnings = [r for r in caplog.records if r.name == "nepse_ray" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "verify=False" in warnings[0].getMessage()


def test_verification_on_by_default_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="nepse_ray"):
        client = NepseClient()
    assert caplog.records == []
    assert client._transport._session.verify is True  # type: ignore[attr-defined]
    client.close()


def test_a_ca_bundle_must_hold_certificates_and_needs_verify(tmp_path: Any) -> None:
    bundle = tmp_path / "nepse-chain.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    with pytest.raises(NepseInputError, match="holds no certificate OpenSSL can load"):
        NepseClient(ca_bundle=str(bundle))
    with pytest.raises(NepseInputError, match="verify=True"):
        NepseClient(ca_bundle=str(bundle), verify=False)
