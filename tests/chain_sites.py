"""HTTPS servers on 127.0.0.1 whose certificate chain lacks its intermediate, as on the real site (tests/tls).

:func:`serve_chain_site` serves :data:`ECHO` over TLS with a leaf signed by a private intermediate the server does
not send, from a fresh :class:`~nepse_ray.sim.tls.PrivatePKI`, and an AIA endpoint (a plain-HTTP
:class:`~loopback_http.LoopbackServer`) that answers what the test asks: the intermediate, another certificate,
garbage, or nothing at all.
"""

from __future__ import annotations

import dataclasses
import socket
import ssl
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from cryptography import x509
from loopback_http import Handler, LoopbackServer, Route, echo

from nepse_ray.sim.tls import AIA_PATH, PrivatePKI, server_context

ECHO = "/api/nots/echo"


@dataclasses.dataclass
class ChainSite:
    """An HTTPS server with an incomplete chain, the root that anchors it and where its leaf says AIA is."""

    pki: PrivatePKI
    api: LoopbackServer
    ca_bundle: str
    aia_url: str
    aia: LoopbackServer | None

    def aia_fetches(self) -> int:
        return 0 if self.aia is None else len(self.aia.seen)

    def close(self) -> None:
        for server in (self.api, self.aia):
            if server is not None:
                server.close()


def serve_chain_site(
    folder: Path,
    aia: Route | Literal["intermediate", "unreachable"] = "intermediate",
    hosts: Sequence[str] = ("127.0.0.1",),
) -> ChainSite:
    """A new :class:`ChainSite`, its root written into ``folder``. ``aia`` is the AIA endpoint's route (by default
    it serves the intermediate), or ``"unreachable"`` for an AIA URL where nothing listens; ``hosts`` are the names
    the leaf is valid for."""
    pki = PrivatePKI.create()
    route = answer_with(pki.intermediate_der()) if aia == "intermediate" else aia
    aia_server = None if route == "unreachable" else LoopbackServer({AIA_PATH: route}, name="aia")
    aia_url = (f"http://127.0.0.1:{closed_port()}" if aia_server is None else aia_server.url) + AIA_PATH
    leaf, key = pki.issue_leaf(aia_url, hosts=hosts)
    api = LoopbackServer({ECHO: echo}, name="api", tls=server_context(leaf, key))
    bundle = folder / f"root-{api.server_address[1]}.pem"
    bundle.write_bytes(pki.root_pem())
    return ChainSite(pki, api, str(bundle), aia_url, aia_server)


def answer_with(body: bytes) -> Route:
    """A route that answers ``body`` as a certificate."""

    def route(handler: Handler) -> None:
        handler.answer(200, body, {"Content-Type": "application/pkix-cert"})

    return route


def trusted_names(context: ssl.SSLContext) -> list[str]:
    """The subjects of the CA certificates ``context`` holds, as RFC 4514 strings, in the order loaded."""
    return [x509.load_der_x509_certificate(der).subject.rfc4514_string() for der in context.get_ca_certs(True)]


def closed_port() -> int:
    """A port of 127.0.0.1 that nothing listens on (taken from the OS, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
