"""The simulator's ``tls="incomplete-chain"`` mode: the real site's flaw, and clients that verify it anyway.

In-process (``nepse_sim_factory``), in a child process (``SimulatorProcess``) and from the command line's parser.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nepse_ray.cli import build_parser
from nepse_ray.nepse.client import NepseClient
from nepse_ray.nepse.errors import NepseCertificateError
from nepse_ray.sim import Simulator, SimulatorProcess
from nepse_ray.sim.tls import TLS_MODES

SMALL: dict[str, Any] = {"trades": 1_200, "rate_limit": None, "seed": 5}


def handshake_error(base_url: str, ca_bundle: str) -> ssl.SSLCertVerificationError:
    """What a plain OpenSSL handshake trusting ``ca_bundle`` makes of the server's chain."""
    host, port = base_url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca_bundle)
    with (
        socket.create_connection((host, int(port)), timeout=5) as raw,
        pytest.raises(ssl.SSLCertVerificationError) as info,
    ):
        context.wrap_socket(raw, server_hostname=host)
    return info.value


def test_the_simulator_leaves_out_the_intermediate_and_a_verifying_client_completes_it(
    nepse_sim_factory: Callable[..., Simulator],
) -> None:
    sim = nepse_sim_factory(tls="incomplete-chain", **SMALL)
    assert sim.base_url.startswith("https://127.0.0.1:")
    assert sim.ca_bundle is not None
    assert handshake_error(sim.base_url, sim.ca_bundle).verify_code == 20  # unable to get local issuer certificate
    with (
        NepseClient(sim.base_url, ca_bundle=sim.ca_bundle) as first,
        NepseClient(sim.base_url, ca_bundle=sim.ca_bundle) as second,
    ):
        assert first.floorsheet(page=0, size=500).floorsheets.total_elements == 1_200
        assert len(second.floorsheet(page=2, size=500).floorsheets.content) == 200
    assert sim.aia_fetches() == 1  # once for the process: the second client shares what the first learned


def test_a_client_that_does_not_trust_the_private_root_gets_the_named_error(
    nepse_sim_factory: Callable[..., Simulator],
) -> None:
    sim = nepse_sim_factory(tls="incomplete-chain", **SMALL)
    with NepseClient(sim.base_url) as client, pytest.raises(NepseCertificateError, match="pass ca_bundle=") as info:
        client.market_open()
    assert "no root of the trust store issued 'CN=NEPSE Simulator TLS CA" in str(info.value)
    assert sim.stats()["requests_total"] == 0


def test_the_root_file_lives_as_long_as_the_simulator() -> None:
    with Simulator(tls="incomplete-chain", **SMALL) as sim:
        assert sim.ca_bundle is not None
        root = Path(sim.ca_bundle)
        assert root.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert not root.parent.exists()


def test_a_simulator_process_serves_the_same_chain() -> None:
    with SimulatorProcess(tls="incomplete-chain", **SMALL) as sim:
        assert sim.base_url.startswith("https://") and sim.ca_bundle is not None and sim.aia_url is not None
        assert sim.stats()["floorsheet_rows"] == 1_200  # its own control calls verify against the root too
        with NepseClient(sim.base_url, ca_bundle=sim.ca_bundle) as client:
            assert client.floorsheet(page=0, size=500).floorsheets.total_elements == 1_200
        assert sim.aia_fetches() == 1
        root = Path(sim.ca_bundle)
    assert not root.parent.exists()


def test_the_command_line_offers_each_tls_mode() -> None:
    parser = build_parser()
    for mode in TLS_MODES:
        assert parser.parse_args(["sim", "--tls", mode]).tls == mode
    assert not hasattr(parser.parse_args(["sim"]), "tls")
    with pytest.raises(SystemExit):
        parser.parse_args(["sim", "--tls", "off"])
    assert parser.parse_args(["demo", "--tls"]).tls is True
    assert parser.parse_args(["demo"]).tls is False
