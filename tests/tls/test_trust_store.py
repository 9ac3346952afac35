"""The default trust store and the pure checks behind AIA: no sockets, explicit times.

The shipped GeoTrust TLS RSA CA G1 certificate is pinned here (fingerprint, names, expiry, the root that signed it)
as the README records it.
"""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Sequence
from pathlib import Path

import pytest
import requests
import trustme
import urllib3
from chain_sites import trusted_names
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from nepse_ray.nepse.tls import (
    ChainError,
    TrustStore,
    ca_issuer_urls,
    default_trust,
    names_issuer,
    pick_issuer,
    read_certificates,
    shipped_intermediates,
    verification_failure,
)
from nepse_ray.sim.tls import PrivatePKI

README = Path(__file__).resolve().parents[2] / "README.md"
G1_SHA256 = "C0:6E:30:7F:7C:FC:1D:32:FA:72:A4:C0:33:C8:7B:90:01:9A:F2:16:F0:77:5D:64:97:8A:2E:CA:6C:8A:23:0E"
G1_SUBJECT = "CN=GeoTrust TLS RSA CA G1,OU=www.digicert.com,O=DigiCert Inc,C=US"
G1_ISSUER = "CN=DigiCert Global Root G2,OU=www.digicert.com,O=DigiCert Inc,C=US"
G1_EXPIRY = dt.datetime(2027, 11, 2, 12, 23, 37, tzinfo=dt.timezone.utc)
WHILE_VALID = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def g1() -> x509.Certificate:
    (cert,) = shipped_intermediates()
    return cert


@pytest.fixture
def pki() -> PrivatePKI:
    return PrivatePKI.create()


def forged_leaf(
    issuer: x509.Name, authority_key_id: bytes | None, aia: Sequence[x509.AccessDescription] = ()
) -> x509.Certificate:
    """A leaf naming ``issuer`` (and key id) as its issuer but signed by a throwaway key."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "www.nepalstock.com")]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if authority_key_id is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier(authority_key_id, None, None), critical=False)
    if aia:
        builder = builder.add_extension(x509.AuthorityInformationAccess(aia), critical=False)
    return builder.sign(key, hashes.SHA256())


def subject_key_id(cert: x509.Certificate) -> bytes:
    return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


# -- the shipped intermediate ---------------------------------------------------------------------------


def test_the_shipped_intermediate_is_geotrust_tls_rsa_ca_g1(g1: x509.Certificate) -> None:
    assert g1.fingerprint(hashes.SHA256()).hex(":").upper() == G1_SHA256
    assert g1.subject.rfc4514_string() == G1_SUBJECT
    assert g1.issuer.rfc4514_string() == G1_ISSUER
    assert g1.not_valid_after_utc == G1_EXPIRY
    assert g1.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_its_signature_verifies_under_digicert_global_root_g2_in_certifi(g1: x509.Certificate) -> None:
    (root,) = default_trust(WHILE_VALID).anchors_for([g1])
    assert root.subject.rfc4514_string() == G1_ISSUER
    g1.verify_directly_issued_by(root)  # raises if the signature is not the root's
    assert pick_issuer(g1, [root]) == root


def test_the_readme_records_what_the_file_holds() -> None:
    readme = README.read_text()
    for fact in (G1_SHA256, "CN=GeoTrust TLS RSA CA G1", "DigiCert Global Root G2", "2027-11-02"):
        assert fact in readme


# -- assembling the default store -----------------------------------------------------------------------


# Listing every certificate the context holds parses certifi's roots, some of which have serial number 0.
@pytest.mark.filterwarnings("ignore:Parsed a serial number:cryptography.utils.CryptographyDeprecationWarning")
def test_the_default_store_is_certifi_and_the_shipped_intermediate_while_it_is_valid(g1: x509.Certificate) -> None:
    store = default_trust(WHILE_VALID)
    assert store.intermediates == (g1,)
    names = trusted_names(store.ssl_context())
    assert names.count(G1_SUBJECT) == names.count(G1_ISSUER) == 1
    assert len(names) == 1 + store.anchors_pem.count(b"-----BEGIN CERTIFICATE-----")
    assert default_trust(G1_EXPIRY + dt.timedelta(seconds=1)).intermediates == ()


def test_only_intermediates_a_root_of_the_store_signed_are_vouched_for(g1: x509.Certificate, pki: PrivatePKI) -> None:
    private = TrustStore(pki.root_pem(), "a private root")
    assert private.vouched([g1], WHILE_VALID) == []  # its root is not in this store
    now = dt.datetime.now(UTC)
    assert private.vouched([pki.intermediate], now) == [pki.intermediate]
    leaf, _ = pki.issue_leaf("http://127.0.0.1:9/ca.crt", hosts=("127.0.0.1",))
    assert private.vouched([leaf], now) == []  # not a CA, and the root did not sign it


def test_the_shipped_intermediate_is_the_known_issuer_of_a_leaf_naming_it(g1: x509.Certificate) -> None:
    store = default_trust(WHILE_VALID)
    naming_it = forged_leaf(g1.subject, subject_key_id(g1))
    assert store.known_issuer(naming_it) == g1
    assert names_issuer(naming_it, g1)
    assert pick_issuer(naming_it, [g1]) is None  # the forger's signature is not the intermediate's
    assert store.known_issuer(forged_leaf(g1.subject, b"\x01" * 20)) is None  # same name, another key
    assert store.known_issuer(forged_leaf(g1.subject, None)) == g1  # no key id: the name decides
    assert store.known_issuer(forged_leaf(g1.issuer, subject_key_id(g1))) is None


# -- AIA URLs and answers -------------------------------------------------------------------------------


def test_ca_issuer_urls_are_the_http_ca_issuers_entries_in_order() -> None:
    def access(method: x509.ObjectIdentifier, url: str) -> x509.AccessDescription:
        return x509.AccessDescription(method, x509.UniformResourceIdentifier(url))

    aia = [
        access(AuthorityInformationAccessOID.OCSP, "http://ocsp.example/"),
        access(AuthorityInformationAccessOID.CA_ISSUERS, "http://a.example/ca.crt"),
        access(AuthorityInformationAccessOID.CA_ISSUERS, "ldap://b.example/ca"),
        access(AuthorityInformationAccessOID.CA_ISSUERS, "https://c.example/ca.crt"),
        access(AuthorityInformationAccessOID.CA_ISSUERS, "HTTP://d.example/ca.p7c"),
    ]
    leaf = forged_leaf(x509.Name([]), None, aia)
    assert ca_issuer_urls(leaf) == ["http://a.example/ca.crt", "HTTP://d.example/ca.p7c"]
    assert ca_issuer_urls(forged_leaf(x509.Name([]), None)) == []


@pytest.mark.parametrize("form", ["DER", "PEM", "PKCS#7 DER", "PKCS#7 PEM"])
def test_an_aia_answer_is_read_in_each_form_cas_serve(pki: PrivatePKI, form: str) -> None:
    der, pem = serialization.Encoding.DER, serialization.Encoding.PEM
    both = [pki.intermediate, pki.root]
    bodies = {
        "DER": (pki.intermediate_der(), [pki.intermediate]),
        "PEM": (b"".join(cert.public_bytes(pem) for cert in both), both),
        "PKCS#7 DER": (pkcs7.serialize_certificates(both, der), both),
        "PKCS#7 PEM": (pkcs7.serialize_certificates(both, pem), both),
    }
    body, expected = bodies[form]
    read = read_certificates(body)
    assert len(read) == len(expected) and set(read) == set(expected)  # PKCS#7 keeps no order


def test_an_aia_answer_that_holds_no_certificate_is_a_chain_error() -> None:
    with pytest.raises(ChainError, match=r"the answer \(11 bytes\) holds no certificate"):
        read_certificates(b"<html></html>"[:11])


# -- verifying a chain ----------------------------------------------------------------------------------


def test_a_chain_verifies_for_its_host_at_a_time_it_is_valid(pki: PrivatePKI) -> None:
    store = TrustStore(pki.root_pem(), "a private root")
    leaf, _ = pki.issue_leaf("http://127.0.0.1:9/ca.crt", hosts=("127.0.0.1", "localhost"))
    now = dt.datetime.now(UTC)
    assert store.verified_chain(leaf, [pki.intermediate], "localhost", now) == [leaf, pki.intermediate, pki.root]
    assert store.verified_chain(leaf, [pki.intermediate], "127.0.0.1", now) == [leaf, pki.intermediate, pki.root]


@pytest.mark.parametrize(
    ("host", "with_intermediate", "days_later", "because"),
    [
        ("www.nepalstock.com", True, 0, "no matching subjectAltName"),
        ("127.0.0.1", False, 0, "no root of the trust store issued 'CN=127.0.0.1'"),
        ("127.0.0.1", True, 60, "not valid at validation time"),
    ],
    ids=["another host", "no intermediate", "after the leaf expired"],
)
def test_a_chain_that_does_not_hold_is_a_chain_error(
    pki: PrivatePKI, host: str, with_intermediate: bool, days_later: int, because: str
) -> None:
    store = TrustStore(pki.root_pem(), "a private root")
    leaf, _ = pki.issue_leaf("http://127.0.0.1:9/ca.crt", hosts=("127.0.0.1",))
    when = dt.datetime.now(UTC) + dt.timedelta(days=days_later)
    with pytest.raises(ChainError, match=because):
        store.verified_chain(leaf, [pki.intermediate] if with_intermediate else [], host, when)


def test_a_chain_to_no_root_of_the_store_names_what_nothing_issued(pki: PrivatePKI) -> None:
    stranger = TrustStore(trustme.CA().cert_pem.bytes(), "another root")
    leaf, _ = pki.issue_leaf("http://127.0.0.1:9/ca.crt", hosts=("127.0.0.1",))
    with pytest.raises(ChainError, match="no root of the trust store issued 'CN=NEPSE Simulator TLS CA"):
        stranger.verified_chain(leaf, [pki.intermediate], "127.0.0.1", dt.datetime.now(UTC))


# -- what failed in a handshake -------------------------------------------------------------------------


def test_the_certificate_error_is_found_behind_requests_and_urllib3() -> None:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    wrapped = urllib3.exceptions.SSLError(cause)
    wrapped.__cause__ = cause
    error = requests.exceptions.SSLError(urllib3.exceptions.MaxRetryError(None, "/api/nots", wrapped))  # type: ignore[arg-type]
    assert verification_failure(error) is cause
    assert verification_failure(requests.exceptions.SSLError("handshake failure")) is None
