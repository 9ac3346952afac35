"""RequestsTransport against servers that leave out their intermediate: repaired through AIA, or a named refusal.

Real sockets on 127.0.0.1 (``chain_site`` in conftest); verification stays on in every test.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme
from chain_sites import ECHO, ChainSite, answer_with
from loopback_http import hang, sized

from nepse_ray.nepse.aia import MAX_AIA_BYTES, shared_trust
from nepse_ray.nepse.errors import NepseCertificateError
from nepse_ray.nepse.transport import RawResponse, RequestsTransport
from nepse_ray.sim.tls import PrivatePKI

SECRET = "Salter tok-SECRET"


def get(transport: RequestsTransport, site: ChainSite) -> RawResponse:
    return transport.send(
        "GET", site.api.url + ECHO, headers={"Authorization": SECRET}, params=(), json_body=None, timeout=(2.0, 5.0)
    )


def refusal(transport: RequestsTransport, site: ChainSite) -> NepseCertificateError:
    with pytest.raises(NepseCertificateError) as info:
        get(transport, site)
    error = info.value
    assert not error.retryable
    assert str(error).startswith("TLS verification failed for 127.0.0.1: ")
    assert "pass ca_bundle=" in str(error)
    for text in (str(error), repr(error), pickle.dumps(error).decode("latin-1")):
        assert "SECRET" not in text
    assert site.api.seen == []  # no request reached the server: the probe handshake sends nothing
    return error


def test_an_incomplete_chain_is_completed_through_aia_once_per_process(
    chain_site: Callable[..., ChainSite],
) -> None:
    site = chain_site()
    first, second = RequestsTransport(site.ca_bundle), RequestsTransport(site.ca_bundle)
    for transport in (first, second, first):
        raw = get(transport, site)
        assert raw.status == 200
        assert json.loads(raw.body)["authorization"] == SECRET
    assert site.aia_fetches() == 1  # the second transport shares what the first learned
    assert shared_trust(site.ca_bundle).store.intermediates == (site.pki.intermediate,)


def test_an_unreachable_aia_url_fails_with_the_named_error(chain_site: Callable[..., ChainSite]) -> None:
    site = chain_site(aia="unreachable")
    error = refusal(RequestsTransport(site.ca_bundle), site)
    assert "the server did not send the certificate that issued its own (CN=NEPSE Simulator TLS CA" in str(error)
    assert f"{site.aia_url}: " in str(error)
    assert "the connection failed" in str(error)
    assert f"the ca_bundle {site.ca_bundle}" in str(error)


def test_a_wrong_certificate_at_the_aia_url_is_refused(chain_site: Callable[..., ChainSite]) -> None:
    stranger = trustme.CA()
    site = chain_site(aia=answer_with(stranger.cert_pem.bytes()))
    error = refusal(RequestsTransport(site.ca_bundle), site)
    assert "which did not issue 'CN=127.0.0.1'" in str(error)
    assert shared_trust(site.ca_bundle).store.intermediates == ()
    assert site.aia_fetches() == 1


@pytest.mark.parametrize(
    ("trusted", "because"),
    [
        ("the default trust", "no root of the trust store issued 'CN=NEPSE Simulator TLS CA"),
        ("another root of the same name", "the chain does not verify to a root of the trust store"),
    ],
)
def test_an_intermediate_that_chains_to_no_trusted_root_is_refused(
    chain_site: Callable[..., ChainSite], tmp_path: Path, trusted: str, because: str
) -> None:
    site = chain_site()  # the AIA endpoint serves the intermediate that really issued the leaf
    if trusted == "the default trust":
        transport = RequestsTransport()
    else:
        other_root = tmp_path / "other-root.pem"
        other_root.write_bytes(PrivatePKI.create().root_pem())
        transport = RequestsTransport(str(other_root))
    error = refusal(transport, site)
    assert f"'CN=NEPSE Simulator TLS CA,O=nepse-ray simulator' was fetched, but {because}" in str(error)
    assert site.aia_fetches() == 1


def test_an_aia_answer_over_the_size_cap_is_refused(chain_site: Callable[..., ChainSite]) -> None:
    site = chain_site(aia=sized(MAX_AIA_BYTES + 1))
    error = refusal(RequestsTransport(site.ca_bundle), site)
    assert f"larger than max_body_bytes={MAX_AIA_BYTES:,}" in str(error)


def test_an_aia_endpoint_that_never_answers_is_bounded_by_the_request_deadline(
    chain_site: Callable[..., ChainSite],
) -> None:
    site = chain_site(aia=hang)
    error = refusal(RequestsTransport(site.ca_bundle, total_timeout=1.0), site)
    assert "timed out" in str(error)


def test_a_certificate_for_another_host_is_refused_with_its_chain_completed(
    chain_site: Callable[..., ChainSite],
) -> None:
    site = chain_site(hosts=("localhost",))  # the request goes to 127.0.0.1
    error = refusal(RequestsTransport(site.ca_bundle), site)
    assert "no matching subjectAltName" in str(error)
    assert shared_trust(site.ca_bundle).store.intermediates == ()


def test_a_client_of_a_plain_http_site_loads_no_tls_machinery() -> None:
    """Workers pulling from the plain-HTTP simulator start without cryptography or a trust store to build."""
    probe = (
        "import sys\n"
        "from nepse_ray.nepse.client import NepseClient\n"
        "from nepse_ray.nepse.errors import NepseConnectionError\n"
        "client = NepseClient('http://127.0.0.1:9')\n"
        "try:\n"
        "    client.market_open()\n"
        "except NepseConnectionError:\n"
        "    pass\n"
        "print(sorted(name for name in ('cryptography', 'nepse_ray.nepse.aia') if name in sys.modules))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
