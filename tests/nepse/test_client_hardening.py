"""NepseClient against hostile input and answers: base URLs, insecure http, malformed tokens and JSON, secrets.

End-to-end cases run the client with its real transport against :mod:`loopback_http` serving a
:class:`~nepse_fakes.FakeNepse` over HTTP on 127.0.0.1, and check that no error carries a token or a salt.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest
from loopback_http import LoopbackServer, nepse_route
from nepse_fakes import MARKET_OPEN_PATH, PROVE_PATH, SALT_SETS, FakeNepse, json_response
from rich.pretty import pretty_repr

from nepse_ray.nepse.client import NepseClient, normalise_base_url
from nepse_ray.nepse.errors import (
    NepseHeaderValueError,
    NepseInputError,
    NepseInvalidResponseError,
    NepseResponseTooLargeError,
)
from nepse_ray.nepse.models import ProveResponse
from nepse_ray.nepse.tokens import insert_junk
from nepse_ray.nepse.transport import RawResponse

SUMMARY = "/api/nots/market-summary/"


def texts_of(error: BaseException) -> list[str]:
    """Everything an error shows or ships: its text, repr, args and pickled form."""
    return [str(error), repr(error), repr(error.args), pickle.dumps(error).decode("latin-1")]


# -- base URLs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "base_url",
    [
        "https://someone:hunter2@www.nepalstock.com",
        "https://hunter2@www.nepalstock.com",
        "http://someone:hunter2@127.0.0.1:8080",
        "https://someone:hunter2@nepalstock.com:badport/path",
    ],
)
def test_credentials_in_base_url_are_refused_without_repeating_them(base_url: str) -> None:
    with pytest.raises(NepseInputError, match="without credentials") as info:
        NepseClient(base_url, transport=FakeNepse())
    for text in texts_of(info.value):
        assert "hunter2" not in text


@pytest.mark.parametrize("base_url", ["http://www.nepalstock.com", "http://10.0.0.8:8080", "http://[fd00::2]"])
def test_plain_http_to_another_host_needs_an_explicit_opt_in(base_url: str) -> None:
    with pytest.raises(NepseInputError, match="allow_insecure_http=True"):
        normalise_base_url(base_url)
    assert normalise_base_url(base_url, allow_insecure_http=True) == base_url


@pytest.mark.parametrize(
    "base_url", ["http://127.0.0.1:8080", "http://127.5.6.7", "http://localhost:9", "http://[::1]:80"]
)
def test_plain_http_to_loopback_is_accepted(base_url: str) -> None:
    assert normalise_base_url(base_url) == base_url


@pytest.mark.parametrize(
    "options",
    [
        {"max_body_bytes": 0},
        {"max_body_bytes": 1.5},
        {"max_body_bytes": True},
        {"total_timeout": 0},
        {"total_timeout": float("inf")},
    ],
)
def test_bad_limits_are_rejected(options: dict[str, Any]) -> None:
    with pytest.raises(NepseInputError):
        NepseClient(transport=FakeNepse(), **options)


# -- hostile answers over real HTTP ---------------------------------------------------------------------


@pytest.fixture
def fake() -> FakeNepse:
    return FakeNepse(bodies={SUMMARY: [{"detail": "Total Turnover Rs:", "value": 1.0}]})


@pytest.fixture
def site(fake: FakeNepse) -> Iterator[LoopbackServer]:
    route = nepse_route(fake)
    server = LoopbackServer({PROVE_PATH: route, MARKET_OPEN_PATH: route, SUMMARY: route})
    yield server
    server.close()


def client_for(site: LoopbackServer, **options: Any) -> NepseClient:
    return NepseClient(site.url, rate=1000.0, burst=10, day=lambda: 12, **options)


def test_the_client_works_over_the_hardened_transport(site: LoopbackServer) -> None:
    with client_for(site) as client:
        assert client.market_summary()[0].value == 1.0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply to decode"),
        (b'{"detail": "Total', "instead of JSON"),
    ],
)
def test_undecodable_json_is_a_named_error_free_of_secrets(
    site: LoopbackServer, fake: FakeNepse, body: bytes, problem: str
) -> None:
    fake.script(SUMMARY, RawResponse(200, {"Content-Type": "application/json"}, body))
    with client_for(site) as client, pytest.raises(NepseInvalidResponseError, match=problem) as info:
        client.market_summary()
    assert info.value.__context__ is None
    assert fake.secrets(), "the client proved a token, so there are secrets to look for"
    for text in texts_of(info.value):
        for secret in fake.secrets():
            assert secret not in text


def test_a_token_outside_latin_1_is_a_named_error_free_of_secrets(site: LoopbackServer, fake: FakeNepse) -> None:
    salts = SALT_SETS[0]
    token = "accessĀ." + "A" * 150
    obfuscated = insert_junk(token, salts[1], "#$%&*")
    prove = {
        "accessToken": obfuscated,
        "refreshToken": insert_junk("refresh." + "R" * 150, salts[0], "#$%&*"),
        "serverTime": 1_649_769_751_000,
        **{f"salt{i + 1}": salt for i, salt in enumerate(salts)},
    }
    fake.script(PROVE_PATH, json_response(prove))
    with client_for(site) as client, pytest.raises(NepseHeaderValueError, match="Authorization header") as info:
        client.market_summary()
    assert info.value.retryable
    for text in texts_of(info.value):
        for secret in (token, token[6:], obfuscated, *(str(salt) for salt in salts)):
            assert secret not in text
    assert [seen.target for seen in site.seen] == [PROVE_PATH]  # the token never left the client


def test_the_body_cap_is_a_client_option(site: LoopbackServer, fake: FakeNepse) -> None:
    fake.script(SUMMARY, json_response([{"detail": "x" * 5000, "value": 1.0}]))
    with client_for(site, max_body_bytes=4096) as client, pytest.raises(NepseResponseTooLargeError):
        client.market_summary()


# -- ProveResponse ----------------------------------------------------------------------------------------

PROVE_BODY = {
    "accessToken": "ACCESS-SECRET",
    "refreshToken": "REFRESH-SECRET",
    "salt": "SALT-SECRET",
    **{f"salt{i}": 11_111 * i for i in range(1, 6)},
    "serverTime": 1_649_769_751_000,
    "tokenType": "",
    "isDisplayActive": False,
    "popupDocFor": "",
    "someNewSecret": "EXTRA-SECRET",
}
PROVE_SECRETS = ("SECRET", *(str(11_111 * i) for i in range(1, 6)))


def test_prove_secrets_stay_out_of_every_repr_and_dump() -> None:
    prove = ProveResponse.model_validate(PROVE_BODY)
    shown = [
        repr(prove),
        str(prove),
        pretty_repr(prove),
        repr(prove.model_dump()),
        repr(prove.model_dump(by_alias=True)),
        prove.model_dump_json(),
        prove.model_dump_json(by_alias=True),
    ]
    for text in shown:
        assert "server_time" in text or "serverTime" in text  # the harmless fields are still there
        for secret in PROVE_SECRETS:
            assert secret not in text
    assert (prove.access_token, prove.refresh_token, prove.salt) == ("ACCESS-SECRET", "REFRESH-SECRET", "SALT-SECRET")
    assert prove.salts == (11_111, 22_222, 33_333, 44_444, 55_555)


def test_prove_validation_errors_do_not_quote_the_input() -> None:
    with pytest.raises(ValueError) as info:
        ProveResponse.model_validate({**PROVE_BODY, "salt1": "SALT1-SECRET"})
    assert "SECRET" not in str(info.value)
