"""SiteTrust.repair without sockets: the leaf and the AIA answers are injected, the clock too."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from chain_sites import trusted_names
from cryptography import x509

from nepse_ray.nepse.aia import SiteTrust
from nepse_ray.nepse.errors import NepseCertificateError, NepseTimeoutError
from nepse_ray.nepse.tls import TrustStore, pem_of
from nepse_ray.sim.tls import PrivatePKI

AIA_URL = "http://127.0.0.1:9/nepse-sim-intermediate.crt"


class FakeAIA:
    """Answers every fetch with ``body`` (or raises ``error``) and counts the fetches."""

    def __init__(self, body: bytes = b"", error: Exception | None = None) -> None:
        self.body, self.error = body, error
        self.urls: list[str] = []

    def __call__(self, url: str) -> bytes:
        self.urls.append(url)
        if self.error is not None:
            raise self.error
        return self.body


@pytest.fixture
def pki() -> PrivatePKI:
    return PrivatePKI.create()


def trust_in(pki: PrivatePKI, now: Callable[[], dt.datetime] | None = None) -> SiteTrust:
    return SiteTrust(TrustStore(pki.root_pem(), "the test root"), now=now)


def leaf_of(pki: PrivatePKI, aia_url: str = AIA_URL) -> Callable[[], x509.Certificate]:
    leaf, _ = pki.issue_leaf(aia_url, hosts=("127.0.0.1",))
    return lambda: leaf


def test_a_repair_fetches_the_issuer_and_trusts_it_from_then_on(pki: PrivatePKI) -> None:
    trust, fetch = trust_in(pki), FakeAIA(pki.intermediate_der())
    read_leaf = leaf_of(pki)
    trust.repair("127.0.0.1", read_leaf, fetch)
    assert fetch.urls == [AIA_URL]
    assert trust.store.intermediates == (pki.intermediate,)
    assert trusted_names(trust.context) == [
        pki.root.subject.rfc4514_string(),
        pki.intermediate.subject.rfc4514_string(),
    ]
    trust.repair("127.0.0.1", read_leaf, fetch)  # the issuer is known now: nothing to fetch
    assert fetch.urls == [AIA_URL]


def test_concurrent_repairs_fetch_once(pki: PrivatePKI) -> None:
    trust, fetch = trust_in(pki), FakeAIA(pki.intermediate_der())
    read_leaf = leaf_of(pki)
    threads = [threading.Thread(target=trust.repair, args=("127.0.0.1", read_leaf, fetch)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert fetch.urls == [AIA_URL]
    assert trust.store.intermediates == (pki.intermediate,)


def test_the_chain_is_checked_at_the_trust_clock(pki: PrivatePKI) -> None:
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60)  # the leaf lives 30 days
    trust = trust_in(pki, now=lambda: later)
    with pytest.raises(NepseCertificateError, match="not valid at validation time"):
        trust.repair("127.0.0.1", leaf_of(pki), FakeAIA(pki.intermediate_der()))
    assert trust.store.intermediates == ()


@pytest.mark.parametrize(
    ("fetch", "because"),
    [
        (FakeAIA(error=NepseTimeoutError("GET /ca.crt: timed out while connecting")), f"{AIA_URL}: GET /ca.crt: timed"),
        (FakeAIA(b"<html>not found</html>"), f"{AIA_URL}: the answer \\(22 bytes\\) holds no certificate"),
    ],
    ids=["timed out", "not a certificate"],
)
def test_a_failed_fetch_names_the_url(pki: PrivatePKI, fetch: FakeAIA, because: str) -> None:
    with pytest.raises(NepseCertificateError, match=because) as info:
        trust_in(pki).repair("127.0.0.1", leaf_of(pki), fetch)
    assert "nepse-ray trusts the test root; pass ca_bundle=" in str(info.value)


def test_a_certificate_that_did_not_issue_the_leaf_is_refused(pki: PrivatePKI) -> None:
    trust = trust_in(pki)
    with pytest.raises(NepseCertificateError, match=r"served 'CN=NEPSE Simulator Root CA.*which did not issue"):
        trust.repair("127.0.0.1", leaf_of(pki), FakeAIA(pem_of(pki.root)))
    assert trust.store.intermediates == ()


def test_a_certificate_without_an_aia_url_cannot_be_repaired(pki: PrivatePKI) -> None:
    fetch = FakeAIA(pki.intermediate_der())
    with pytest.raises(NepseCertificateError, match="names no http:// caIssuers URL"):
        trust_in(PrivatePKI.create()).repair("127.0.0.1", lambda: pki.intermediate, fetch)  # it has no AIA extension
    assert fetch.urls == []


def test_a_leaf_that_cannot_be_read_is_the_named_error(pki: PrivatePKI) -> None:
    def refused() -> x509.Certificate:
        raise ConnectionRefusedError(111, "Connection refused")

    with pytest.raises(NepseCertificateError, match=r"reading the certificate failed \(ConnectionRefusedError\)"):
        trust_in(pki).repair("127.0.0.1", refused, FakeAIA())
