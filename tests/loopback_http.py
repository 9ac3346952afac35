"""A tiny HTTP/1.1 server on 127.0.0.1 for transport tests: plain or TLS, with hostile answers on demand.

Each route is a function that writes the whole answer through the request handler. The server records what it
saw (path, headers, the client's address and port) so a test can check what reached it. :func:`nepse_route` serves the
NEPSE protocol of a :class:`~nepse_fakes.FakeNepse` over real HTTP, so a :class:`NepseClient` with its default
transport can run against it.
"""

from __future__ import annotations

import dataclasses
import gzip
import http.server
import json
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import parse_qsl, urlsplit

from nepse_fakes import FakeNepse

Route = Callable[["Handler"], None]


@dataclasses.dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    target: str
    headers: dict[str, str]
    client_port: int
    client_host: str


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so tests can see connections being reused
    server: LoopbackServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        self.dispatch()

    def do_CONNECT(self) -> None:  # what an HTTPS request through a proxy starts with
        self.dispatch()

    def dispatch(self) -> None:
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append(
            Seen(self.command, self.path, dict(self.headers), self.client_address[1], self.client_address[0])
        )
        route = self.server.routes.get(urlsplit(self.path).path)
        if route is None:
            self.answer(404, b"not found", {"Content-Type": "text/plain"})
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            self.close_connection = True

    def answer(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        """Send a whole answer; JSON unless ``headers`` name another Content-Type."""
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class LoopbackServer(http.server.ThreadingHTTPServer):
    """Serves ``routes`` on 127.0.0.1 in a daemon thread until :meth:`close`; TLS when given a context."""

    daemon_threads = True

    def __init__(self, routes: Mapping[str, Route], *, name: str = "server", tls: ssl.SSLContext | None = None):
        super().__init__(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.routes = dict(routes)
        self.name = name
        self.seen: list[Seen] = []
        self.release = threading.Event()  # routes that hang wait for it
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        scheme = "https" if tls is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.shutdown()
        self.server_close()


# -- routes ---------------------------------------------------------------------------------------------


def echo(handler: Handler) -> None:
    """What arrived, as JSON: the server's name, the request target and its Authorization header."""
    seen = {
        "server": handler.server.name,
        "target": handler.path,
        "authorization": handler.headers.get("Authorization"),
        "client_port": handler.client_address[1],
    }
    handler.answer(200, json.dumps(seen).encode())


def sized(size: int) -> Route:
    """A body of exactly ``size`` bytes."""
    return lambda handler: handler.answer(200, b"x" * size, {"Content-Type": "application/octet-stream"})


def gzipped(data: bytes) -> Route:
    """``data`` sent gzip-compressed, as a server may send it (a bomb when ``data`` is large and repetitive)."""
    compressed = gzip.compress(data, compresslevel=9)
    return lambda handler: handler.answer(200, compressed, {"Content-Encoding": "gzip"})


def endless(handler: Handler) -> None:
    """A chunked body that never ends."""
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"[" * 65536
    while not handler.server.release.is_set():
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def trickle(handler: Handler) -> None:
    """A 10,000-byte body sent one byte every 20 ms: each read is quick, the whole takes 200 s."""
    handler.send_response(200)
    handler.send_header("Content-Length", "10000")
    handler.end_headers()
    for _ in range(10_000):
        if handler.server.release.wait(0.02):
            return
        handler.wfile.write(b" ")
        handler.wfile.flush()


def hang(handler: Handler) -> None:
    """No answer until the server closes."""
    handler.server.release.wait(timeout=60)
    handler.close_connection = True


def truncated(handler: Handler) -> None:
    """Promises 1,000 bytes, sends 10 and closes the connection."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b"0123456789")
    handler.wfile.flush()
    time.sleep(0.05)
    handler.close_connection = True


def corrupt_gzip(handler: Handler) -> None:
    handler.answer(200, b"\x1f\x8b\x08\x00not gzip at all", {"Content-Encoding": "gzip"})


def nepse_route(fake: FakeNepse) -> Route:
    """Serve one path with the answers of ``fake`` (its prove, token checks, scripts and bodies)."""

    def route(handler: Handler) -> None:
        parts = urlsplit(handler.path)
        raw = fake.send(
            handler.command,
            parts.path,
            headers=dict(handler.headers),
            params=parse_qsl(parts.query),
            json_body=json.loads(handler.body) if handler.body else None,
            timeout=(1.0, 1.0),
        )
        handler.answer(raw.status, raw.body, raw.headers)

    return route
