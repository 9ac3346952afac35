"""The total deadline holds for the whole attempt, and only the encodings the client asked for are decoded.

Against the simulator in hostile mode: a gzip header whose comment trickles, header lines one every half second,
a name lookup that hangs, and a Brotli body. Each slow attack lasts 15 s; the client must give up at its
``total_timeout`` of 1 s, which the server sees as a client that hung up before the answer's end (the stats'
``hostile:KIND:abandoned``), not as an answer delivered in full.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from loopback_http import Handler, LoopbackServer

from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseContentEncodingError, NepseDeadlineError
from nepse_ray.nepse.transport import RequestsTransport
from nepse_ray.sim import Simulator
from nepse_ray.testing import wait_until


@pytest.mark.parametrize("kind", ["trickle-gzip", "slow-headers"])
def test_a_trickling_answer_ends_at_the_total_timeout(
    hostile_sim: Callable[..., Simulator], client_of: Callable[..., NepseClient], kind: str
) -> None:
    sim = hostile_sim(kind)
    client = client_of(sim, total_timeout=1.0)
    with pytest.raises(NepseDeadlineError, match=r"total_timeout=1 s") as info:
        client.market_open()
    assert info.value.endpoint == "market_open" and info.value.retryable
    answered = wait_until(  # until the server's handlers have all returned
        sim.stats, lambda stats: sum(stats["responses_by_status"].values()) == stats["requests_total"], timeout=30
    )
    assert answered["faults_injected"].get(f"hostile:{kind}:abandoned") == 1  # the client hung up in time


@pytest.fixture
def hanging_lookup(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """``localhost`` takes 20 s to resolve (until the test sets the event); other names resolve as usual."""
    release = threading.Event()
    resolve = socket.getaddrinfo

    def slow(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "localhost":
            release.wait(20)
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    yield release
    release.set()


def test_a_hanging_name_lookup_ends_at_the_total_timeout(
    hostile_sim: Callable[..., Simulator], hanging_lookup: threading.Event
) -> None:
    sim = hostile_sim()
    with NepseClient(sim.base_url.replace("127.0.0.1", "localhost"), rate=100.0, total_timeout=1.0) as client:
        with pytest.raises(NepseDeadlineError, match="while waiting for the answer"):
            client.market_open()
        assert sim.stats()["requests_total"] == 0  # nothing left while the name was being looked up
        hanging_lookup.set()
        assert client.market_open().id == 80  # the same client works once names resolve again


def test_an_encoding_the_client_did_not_ask_for_is_refused(
    hostile_sim: Callable[..., Simulator], client_of: Callable[..., NepseClient]
) -> None:
    sim = hostile_sim("brotli")
    client = client_of(sim)
    with pytest.raises(NepseContentEncodingError, match="encoded as 'br'") as info:
        client.market_open()
    assert not info.value.retryable and info.value.endpoint == "market_open"
    sim.configure(hostile=[])
    assert client.market_open().id == 80


def test_the_client_asks_for_gzip_and_deflate_only() -> None:
    """Whatever decoders are installed (this suite installs brotli, which makes requests offer br by default)."""
    asked: list[str | None] = []

    def record(handler: Handler) -> None:
        asked.append(handler.headers.get("Accept-Encoding"))
        handler.answer(200, b"{}")

    server = LoopbackServer({"/api/nots/accept": record})
    try:
        RequestsTransport().send(
            "GET", server.url + "/api/nots/accept", headers={}, params=(), json_body=None, timeout=(5.0, 5.0)
        )
    finally:
        server.close()
    assert asked == ["gzip, deflate"]
