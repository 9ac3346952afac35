"""The simulator's hostile mode serves each attack it names, switched on at start, at runtime or from the CLI."""

from __future__ import annotations

import gzip
import json
import math
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from sim_session import QUICK, SimSession

from nepse_ray.cli import build_parser
from nepse_ray.nepse.endpoints import prepare
from nepse_ray.sim import SimConfig, Simulator, SimulatorProcess
from nepse_ray.sim.hostile import (
    CONTROL_SEQUENCES,
    FAR_FUTURE_AS_OF,
    HOSTILE,
    HOSTILE_INDEX_IDS,
    OVERSIZED_ROWS,
    SYMBOL_CONTROLS,
    TRAVERSAL_SYMBOLS,
    brotli_stored,
    gzip_with_comment,
)
from nepse_ray.testing import wait_until

HostileSim = Callable[..., Simulator]


def _session(sim: Simulator) -> SimSession:
    session = SimSession(sim)
    session.prove()
    return session


def test_traversal_symbols_and_control_chars_reach_the_lists(hostile_sim: HostileSim) -> None:
    session = _session(hostile_sim("traversal-symbols", "control-chars"))
    symbols = [row["symbol"] for row in session.call("security_list").json()]
    assert symbols[: len(TRAVERSAL_SYMBOLS)] == [symbol + SYMBOL_CONTROLS for symbol in TRAVERSAL_SYMBOLS]
    assert all(symbol.endswith(SYMBOL_CONTROLS) for symbol in symbols)
    companies = session.call("company_list").json()
    assert companies[0]["symbol"].startswith(TRAVERSAL_SYMBOLS[0])
    assert companies[0]["companyName"].endswith(CONTROL_SEQUENCES)


def test_index_ids_dates_and_as_of(hostile_sim: HostileSim) -> None:
    session = _session(hostile_sim("hostile-index-ids", "hostile-dates", "far-future-asof"))
    ids = [row["id"] for row in session.call("sub_indices").json()]
    assert ids[: len(HOSTILE_INDEX_IDS)] == list(HOSTILE_INDEX_IDS)
    assert session.call("market_open").json()["asOf"] == FAR_FUTURE_AS_OF
    rows = session.call("today_price", size=5).json()["content"]
    assert rows and all(row["businessDate"].startswith("../../../outside/") for row in rows)


def test_oversized_pages_hold_fresh_rows_whatever_the_size(hostile_sim: HostileSim) -> None:
    session = _session(hostile_sim("oversized-pages"))
    page = session.call("floorsheet", page=1, size=500).json()["floorsheets"]
    ids = {row["contractId"] for row in page["content"]}
    assert len(page["content"]) == len(ids) == OVERSIZED_ROWS
    assert page["totalElements"] == QUICK["trades"] and page["size"] == 500
    honest = _session(hostile_sim()).call("floorsheet", page=1, size=500).json()["floorsheets"]["content"]
    assert ids.isdisjoint(row["contractId"] for row in honest)


@pytest.mark.parametrize(("kind", "value"), [("huge-numbers", 10**400), ("infinite-numbers", math.inf)])
def test_huge_and_infinite_totals(hostile_sim: HostileSim, kind: str, value: float) -> None:
    body = _session(hostile_sim(kind)).call("today_price", size=5).text
    page = json.loads(body)
    assert page["totalElements"] == page["totalPages"] == value


def _raw_request(sim: Simulator, name: str) -> socket.socket:
    """A request for ``name`` written on a plain socket, so a test can read the answer's first bytes itself."""
    session = _session(sim)
    call = prepare(name, {})
    address = urlsplit(sim.base_url)
    sock = socket.create_connection((address.hostname, address.port or 80), timeout=30)
    sock.sendall(
        f"GET {call.path} HTTP/1.1\r\nHost: {address.netloc}\r\nReferer: {sim.base_url}/\r\n"
        f"Authorization: Salter {session.access_token}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
    )
    return sock


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        piece = sock.recv(1)
        assert piece, data
        data += piece
    return data


@pytest.mark.parametrize(
    ("kind", "first"), [("trickle-gzip", b"\r\n\r\n\x1f\x8b\x08\x10"), ("slow-headers", b"X-Slow-0: 0\r\n")]
)
def test_slow_deliveries_trickle_and_count_a_client_that_hangs_up(
    hostile_sim: HostileSim, kind: str, first: bytes
) -> None:
    sim = hostile_sim(kind)
    with _raw_request(sim, "market_open") as sock:
        head = _read_until(sock, first)
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    if kind == "trickle-gzip":  # the gzip header's FLG byte announces a comment (FCOMMENT)
        assert b"Content-Encoding: gzip" in head
    abandoned = f"hostile:{kind}:abandoned"
    faults = wait_until(lambda: sim.stats()["faults_injected"], lambda f: abandoned in f, timeout=30)
    assert faults[f"hostile:{kind}"] == 1


def test_gzip_comment_and_brotli_bodies_decode() -> None:
    assert gzip.decompress(gzip_with_comment(b'{"a": 1}', b"c" * 30)) == b'{"a": 1}'
    brotli = pytest.importorskip("brotli")
    body = bytes(range(256)) * 700  # more than one meta-block
    assert brotli.decompress(brotli_stored(body)) == body


def test_brotli_answers_are_brotli(hostile_sim: HostileSim) -> None:
    pytest.importorskip("brotli")  # requests decodes br with it, as urllib3 would for a client that asked for br
    response = _session(hostile_sim("brotli")).call("market_open")
    assert response.headers["Content-Encoding"] == "br" and response.json()["id"] == 80


def test_kinds_switch_at_runtime_and_from_the_command_line(hostile_sim: HostileSim) -> None:
    sim = hostile_sim()
    session = _session(sim)
    assert session.call("market_open").json()["asOf"] != FAR_FUTURE_AS_OF
    session.post("/_sim/config", {"hostile": ["far-future-asof"]}).raise_for_status()
    assert session.call("market_open").json()["asOf"] == FAR_FUTURE_AS_OF
    args = build_parser().parse_args(["sim", "--hostile", "brotli", "--hostile", "oversized-pages"])
    assert SimConfig.model_validate({"hostile": args.hostile}).hostile == ("brotli", "oversized-pages")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "--hostile", "no-such-kind"])
    assert all(kind.attack for kind in HOSTILE.values())


def test_simulator_process_serves_hostile_kinds() -> None:
    with SimulatorProcess(**{**QUICK, "trades": 500}, hostile=["far-future-asof"]) as sim:
        session = SimSession(sim.base_url)
        session.prove()
        assert session.call("market_open").json()["asOf"] == FAR_FUTURE_AS_OF
        assert sim.stats()["faults_injected"] == {"hostile:far-future-asof": 1}
