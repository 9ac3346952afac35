"""RequestsTransport, the client's real transport: failures mapped without the request, and a loopback server."""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator

import pytest
import requests
from client_rig import FLOORSHEET
from loopback_http import Handler, LoopbackServer, hang
from nepse_fakes import BASE_URL

from nepse_ray.nepse.errors import NepseConnectionError, NepseError, NepseTimeoutError
from nepse_ray.nepse.transport import RequestsTransport

# -- the requests transport ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raised", "kind", "retryable"),
    [
        (requests.ConnectionError("Connection aborted. RemoteDisconnected"), NepseConnectionError, True),
        (requests.exceptions.ChunkedEncodingError("incomplete read"), NepseConnectionError, True),
        (requests.ConnectTimeout("connect timed out"), NepseTimeoutError, True),
        (requests.ReadTimeout("read timed out"), NepseTimeoutError, True),
        (requests.exceptions.SSLError("CERTIFICATE_VERIFY_FAILED"), NepseConnectionError, False),
        (requests.exceptions.TooManyRedirects("loop"), NepseConnectionError, True),
    ],
)
def test_requests_failures_are_mapped_without_the_request(
    monkeypatch: pytest.MonkeyPatch, raised: requests.RequestException, kind: type[NepseError], retryable: bool
) -> None:
    request = requests.Request("POST", BASE_URL + FLOORSHEET, headers={"Authorization": "Salter tok-SECRET"})
    raised.request = request.prepare()
    transport = RequestsTransport()

    def fail(*args: object, **kwargs: object) -> None:
        raise raised

    monkeypatch.setattr(transport._session, "request", fail)
    with pytest.raises(NepseError) as info:
        transport.send(
            "POST", BASE_URL + FLOORSHEET + "?page=1", headers={"Authorization": "Salter tok-SECRET"},
            params=(("page", "1"),), json_body={"id": 4242}, timeout=(1.0, 1.0),
        )  # fmt: skip
    error = info.value
    assert (type(error), error.retryable) == (kind, retryable)
    assert str(error).startswith(f"POST {FLOORSHEET}:")
    assert error.__context__ is None and error.__cause__ is None
    for text in (str(error), repr(error), pickle.dumps(error).decode("latin-1")):
        assert "SECRET" not in text and "4242" not in text and "page=1" not in text


def echo_request(handler: Handler) -> None:
    """The request as the server read it: method, target, Authorization header and JSON body."""
    echoed = {
        "method": handler.command,
        "path": handler.path,
        "authorization": handler.headers.get("Authorization"),
        "body": json.loads(handler.body) if handler.body else None,
    }
    handler.answer(200, json.dumps(echoed).encode())


def drop(handler: Handler) -> None:
    handler.close_connection = True


def moved(handler: Handler) -> None:
    handler.answer(302, b"", {"Location": "https://elsewhere.test/"})


@pytest.fixture(scope="module")
def local_url() -> Iterator[str]:
    routes = {"/api/nots/echo": echo_request, "/api/nots/drop": drop, "/api/nots/hang": hang, "/api/nots/moved": moved}
    server = LoopbackServer(routes)
    yield server.url
    server.close()


def test_requests_transport_round_trip(local_url: str) -> None:
    transport = RequestsTransport()
    raw = transport.send(
        "POST", local_url + "/api/nots/echo", headers={"Authorization": "Salter abc"},
        params=(("sort", "contractId,desc"), ("page", "2")), json_body={"id": 7}, timeout=(2.0, 2.0),
    )  # fmt: skip
    transport.close()
    assert (raw.status, raw.header("content-type")) == (200, "application/json")
    echo = json.loads(raw.body)
    assert echo == {
        "method": "POST",
        "path": "/api/nots/echo?sort=contractId%2Cdesc&page=2",
        "authorization": "Salter abc",
        "body": {"id": 7},
    }


def test_requests_transport_does_not_follow_redirects(local_url: str) -> None:
    raw = RequestsTransport().send(
        "GET", local_url + "/api/nots/moved", headers={}, params=(), json_body=None, timeout=(2.0, 2.0)
    )
    assert (raw.status, raw.header("Location")) == (302, "https://elsewhere.test/")


def test_requests_transport_dropped_connection(local_url: str) -> None:
    with pytest.raises(NepseConnectionError, match="GET /api/nots/drop: the connection failed or was dropped"):
        RequestsTransport().send(
            "GET", local_url + "/api/nots/drop", headers={}, params=(), json_body=None, timeout=(2.0, 2.0)
        )


def test_requests_transport_read_timeout(local_url: str) -> None:
    with pytest.raises(NepseTimeoutError, match="waiting for the answer"):
        RequestsTransport().send(
            "GET", local_url + "/api/nots/hang", headers={}, params=(), json_body=None, timeout=(2.0, 0.05)
        )
