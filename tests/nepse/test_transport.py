"""RequestsTransport against real sockets on 127.0.0.1: body cap, deadline, environment, TLS and header values.

Each hostile answer comes from :mod:`loopback_http`; TLS uses a throwaway CA made by ``trustme``.
"""

from __future__ import annotations

import json
import pickle
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from loopback_http import LoopbackServer, corrupt_gzip, echo, endless, gzipped, hang, sized, trickle, truncated

from nepse_ray.nepse.errors import (
    NepseConnectionError,
    NepseDeadlineError,
    NepseError,
    NepseHeaderValueError,
    NepseInvalidResponseError,
    NepseResponseTooLargeError,
    NepseTimeoutError,
)
from nepse_ray.nepse.transport import RawResponse, RequestsTransport

ECHO = "/api/nots/echo"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
ROUTES = {
    ECHO: echo,
    "/api/nots/1000-bytes": sized(1000),
    "/api/nots/1001-bytes": sized(1001),
    "/api/nots/bomb": gzipped(b"\0" * (8 * 1024 * 1024)),
    "/api/nots/gzip-json": gzipped(json.dumps({"rows": list(range(5000))}).encode()),
    "/api/nots/endless": endless,
    "/api/nots/trickle": trickle,
    "/api/nots/hang": hang,
    "/api/nots/truncated": truncated,
    "/api/nots/corrupt-gzip": corrupt_gzip,
}


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    loopback = LoopbackServer(ROUTES)
    yield loopback
    loopback.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA) -> Iterator[LoopbackServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    loopback = LoopbackServer({ECHO: echo}, name="tls", tls=context)
    yield loopback
    loopback.close()


@pytest.fixture(scope="module")
def proxy() -> Iterator[LoopbackServer]:
    """Would receive every request if the transport honoured proxy variables (it answers each as an echo)."""
    loopback = LoopbackServer({ECHO: echo}, name="proxy")
    yield loopback
    loopback.close()


def get(
    transport: RequestsTransport,
    url: str,
    headers: dict[str, str] | None = None,
    timeout: tuple[float, float] = (2.0, 5.0),
) -> RawResponse:
    return transport.send("GET", url, headers=headers or {}, params=(), json_body=None, timeout=timeout)


def echoed(transport: RequestsTransport, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    raw = get(transport, url + ECHO, headers)
    assert raw.status == 200
    answer: dict[str, Any] = json.loads(raw.body)
    return answer


# -- bodies and deadlines -------------------------------------------------------------------------------


def test_streamed_bodies_keep_the_connection_alive(server: LoopbackServer) -> None:
    transport = RequestsTransport()
    first, second = echoed(transport, server.url), echoed(transport, server.url)
    transport.close()
    assert first["target"] == second["target"] == ECHO
    assert first["client_port"] == second["client_port"]  # one connection, reused


def test_a_body_at_the_cap_is_read_and_one_byte_more_is_refused(server: LoopbackServer) -> None:
    transport = RequestsTransport(max_body_bytes=1000)
    assert get(transport, server.url + "/api/nots/1000-bytes").body == b"x" * 1000
    with pytest.raises(NepseResponseTooLargeError, match="larger than max_body_bytes=1,000 bytes") as info:
        get(transport, server.url + "/api/nots/1001-bytes")
    assert not info.value.retryable
    assert get(transport, server.url + "/api/nots/1000-bytes").status == 200  # the connection pool still works


def test_compressed_bodies_are_capped_by_their_decoded_size(server: LoopbackServer) -> None:
    transport = RequestsTransport(max_body_bytes=1024 * 1024)
    assert json.loads(get(transport, server.url + "/api/nots/gzip-json").body) == {"rows": list(range(5000))}
    with pytest.raises(NepseResponseTooLargeError, match="decompressed"):
        get(transport, server.url + "/api/nots/bomb")  # 8 KiB on the wire, 8 MiB decoded


def test_an_endless_body_is_refused_at_the_cap(server: LoopbackServer) -> None:
    with pytest.raises(NepseResponseTooLargeError):
        get(RequestsTransport(max_body_bytes=256 * 1024), server.url + "/api/nots/endless")


def test_a_trickled_body_fails_at_the_total_timeout(server: LoopbackServer) -> None:
    """Every byte arrives well within the read timeout; only the total deadline can stop this answer."""
    with pytest.raises(NepseDeadlineError, match=r"total_timeout=0\.5 s") as info:
        get(RequestsTransport(total_timeout=0.5), server.url + "/api/nots/trickle", timeout=(2.0, 30.0))
    assert isinstance(info.value, NepseTimeoutError) and info.value.retryable


def test_waiting_for_the_answer_is_capped_by_the_total_timeout(server: LoopbackServer) -> None:
    with pytest.raises(NepseTimeoutError, match="waiting for the answer"):
        get(RequestsTransport(total_timeout=0.3), server.url + "/api/nots/hang", timeout=(2.0, 30.0))


@pytest.mark.parametrize(
    ("path", "error", "text"),
    [
        ("/api/nots/truncated", NepseConnectionError, "dropped while reading the answer"),
        ("/api/nots/corrupt-gzip", NepseInvalidResponseError, "compressed body is corrupt"),
    ],
)
def test_failures_while_reading_the_body_are_named(
    server: LoopbackServer, path: str, error: type[NepseError], text: str
) -> None:
    with pytest.raises(error, match=text) as info:
        get(RequestsTransport(), server.url + path)
    assert str(info.value).startswith(f"GET {path}:")
    assert info.value.__context__ is None


# -- the environment has no say -------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_variable_cannot_make_an_untrusted_server_trusted(
    tls_server: LoopbackServer, ca_file: str, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, ca_file)  # requests would trust the test CA through this
    with pytest.raises(NepseConnectionError, match="TLS verification failed") as info:
        get(RequestsTransport(), tls_server.url + ECHO)
    assert not info.value.retryable


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
@pytest.mark.parametrize("setting", ["ca_bundle", "verify=False"])
def test_ca_bundle_and_verify_false_hold_against_the_variables(
    tls_server: LoopbackServer, ca_file: str, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", SYSTEM_BUNDLE)  # does not hold the test CA
    monkeypatch.setenv("CURL_CA_BUNDLE", SYSTEM_BUNDLE)
    transport = RequestsTransport(ca_file if setting == "ca_bundle" else False)
    assert echoed(transport, tls_server.url)["server"] == "tls"


def test_netrc_neither_replaces_nor_adds_authorization(
    server: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    transport = RequestsTransport()
    assert echoed(transport, server.url, {"Authorization": "Salter abc"})["authorization"] == "Salter abc"
    assert echoed(transport, server.url)["authorization"] is None


@pytest.mark.parametrize("variable", PROXY_VARIABLES)
def test_proxy_variables_are_ignored(
    server: LoopbackServer,
    tls_server: LoopbackServer,
    ca_file: str,
    proxy: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
) -> None:
    for name in (*PROXY_VARIABLES, "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, proxy.url)
    target = tls_server if variable.lower().startswith("https") else server
    seen_by_proxy = len(proxy.seen)
    answer = echoed(RequestsTransport(ca_file), target.url, {"Authorization": "Salter abc"})
    assert answer["server"] == target.name
    assert len(proxy.seen) == seen_by_proxy


# -- header values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "retryable"),
    [
        ("Authorization", "Salter tokĀSECRET", True),  # outside latin-1
        ("Authorization", "Salter tok\r\nX-Leak: SECRET", True),
        ("User-Agent", "agent\nSECRET", False),
        ("Referer", " SECRET", False),
    ],
)
def test_unsendable_header_values_are_refused_without_echoing_them(
    server: LoopbackServer, name: str, value: str, retryable: bool
) -> None:
    seen = len(server.seen)
    with pytest.raises(NepseHeaderValueError, match=f"the {name} header holds characters") as info:
        get(RequestsTransport(), server.url + ECHO, {name: value})
    error = info.value
    assert error.retryable is retryable
    for text in (str(error), repr(error), repr(error.args), pickle.dumps(error).decode("latin-1")):
        assert "SECRET" not in text
    assert len(server.seen) == seen  # nothing was sent
