"""What nepse-ray trusts, and the pure checks behind completing a certificate chain a server left incomplete.

nepalstock.com sends its own certificate without the intermediate that signed it (*GeoTrust TLS RSA CA G1*), so a
client that trusts only certifi's roots cannot build the chain. The default :class:`TrustStore` is therefore
certifi's roots plus the intermediates shipped in ``nepse_ray/nepse/certs/``, each added only if it is a CA that a
root of that store signed and that is valid now. ``ca_bundle=`` replaces the whole default (:func:`bundle_trust`).

For a site whose missing intermediate is not shipped, :mod:`nepse_ray.nepse.aia` fetches it from the leaf's
Authority Information Access (AIA) URL, as browsers do. This module holds the decisions that fetch relies on, with
no sockets: the leaf's caIssuers URLs (:func:`ca_issuer_urls`), reading what such a URL answers
(:func:`read_certificates`), picking the certificate that issued another (:func:`pick_issuer`), and verifying a whole
chain to a root of the store for a host name (:meth:`TrustStore.verified_chain`). A fetched certificate is never
trusted on its own: it joins the store only as part of a chain that verifies to a root already there.

>>> store = default_trust(now=dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))
>>> [c.subject.rfc4514_string() for c in store.intermediates]
['CN=GeoTrust TLS RSA CA G1,OU=www.digicert.com,O=DigiCert Inc,C=US']
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import functools
import ipaddress
import re
import ssl
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, pkcs7
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError
from urllib3.util.ssl_ import create_urllib3_context

from .errors import NepseCertificateError

#: The intermediates that ship with nepse-ray (files in ``nepse_ray/nepse/certs/``), each for a site known to omit it.
SHIPPED_INTERMEDIATES = ("geotrust-tls-rsa-ca-g1.pem",)

#: OpenSSL verify codes meaning "the issuer of a certificate in the chain is not in the trust store": the case that
#: fetching the issuer may repair (unable to get issuer certificate, ... locally, unable to verify the first one).
UNKNOWN_ISSUER_CODES = frozenset({2, 20, 21})

_PEM_BLOCK = re.compile(rb"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", re.DOTALL)


class ChainError(ValueError):
    """A chain that cannot be completed or verified; the message says why (names and URLs only, never secrets)."""


@dataclasses.dataclass(frozen=True)
class TrustStore:
    """Trust anchors (PEM text, as OpenSSL loads it) and intermediates known to chain to one of them.

    ``label`` says in words what is trusted, for error messages. Immutable: :meth:`with_intermediates` returns a
    larger store.
    """

    anchors_pem: bytes
    label: str
    intermediates: tuple[x509.Certificate, ...] = ()

    def pem(self) -> str:
        """Everything an ``SSLContext`` should load, the anchors then the intermediates, as PEM blocks only."""
        blocks = [match.group(0) for match in _PEM_BLOCK.finditer(self.anchors_pem)]
        return b"\n".join([*blocks, *(pem_of(cert) for cert in self.intermediates)]).decode("ascii")

    def ssl_context(self) -> ssl.SSLContext:
        """A client context with urllib3's defaults (TLS 1.2+, hostname checks) trusting exactly this store.

        Raises ``ssl.SSLError`` or ``ValueError`` if OpenSSL can load none of its certificates.
        """
        context = create_urllib3_context()
        context.load_verify_locations(cadata=self.pem())
        return context

    def with_intermediates(self, certs: Iterable[x509.Certificate]) -> TrustStore:
        """This store with ``certs`` added to its intermediates (each once)."""
        added = tuple(dict.fromkeys(cert for cert in certs if cert not in self.intermediates))
        return dataclasses.replace(self, intermediates=self.intermediates + added)

    def known_issuer(self, cert: x509.Certificate) -> x509.Certificate | None:
        """The intermediate of this store that names itself ``cert``'s issuer (by name and key id), if any."""
        return next((known for known in self.intermediates if names_issuer(cert, known)), None)

    def vouched(self, certs: Iterable[x509.Certificate], now: dt.datetime) -> list[x509.Certificate]:
        """Those of ``certs`` that are CA certificates, valid at ``now``, signed by an anchor of this store."""
        return [
            cert
            for cert in certs
            if _is_ca(cert)
            and cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
            and pick_issuer(cert, self.anchors_for([cert])) is not None
        ]

    def anchors_for(self, certs: Iterable[x509.Certificate]) -> list[x509.Certificate]:
        """The anchors whose subject is the issuer of one of ``certs``.

        Only anchors whose DER contains such a name are parsed, so a search reads one or two certificates of a
        bundle, not all of them (certifi holds roots with a zero serial number, which cryptography warns about).
        """
        wanted = {cert.issuer.public_bytes() for cert in certs}
        found = []
        for der in _der_blocks(self.anchors_pem):
            if any(name in der for name in wanted):
                anchor = x509.load_der_x509_certificate(der)
                if anchor.subject.public_bytes() in wanted:
                    found.append(anchor)
        return found

    def verified_chain(
        self, leaf: x509.Certificate, intermediates: Sequence[x509.Certificate], host: str, now: dt.datetime
    ) -> list[x509.Certificate]:
        """The chain from ``leaf`` for ``host`` through ``intermediates`` to an anchor, verified at ``now``.

        Raises :class:`ChainError` unless cryptography's X.509 verifier (RFC 5280 and the CA/Browser Forum's web
        profile: signatures, validity, CA flags, key usage, path length, the host name) accepts it.
        """
        anchors = self.anchors_for([leaf, *intermediates])
        if not anchors:
            raise ChainError(f"no root of the trust store issued {_names(intermediates[:1] or [leaf])}")
        verifier = PolicyBuilder().store(Store(anchors)).time(now).build_server_verifier(general_name(host))
        try:
            return verifier.verify(leaf, list(intermediates))
        except VerificationError as error:
            raise ChainError(f"the chain does not verify to a root of the trust store: {error}") from None


def default_trust(now: dt.datetime | None = None) -> TrustStore:
    """certifi's roots plus each shipped intermediate that one of them signed and that is valid at ``now``."""
    store = TrustStore(Path(certifi.where()).read_bytes(), "certifi's roots and the intermediates nepse-ray ships")
    return store.with_intermediates(store.vouched(shipped_intermediates(), now or dt.datetime.now(dt.timezone.utc)))


def bundle_trust(path: str) -> TrustStore:
    """Exactly the certificates of a CA bundle file (``ca_bundle=``), or of every file in a directory of them."""
    where = Path(path)
    files = sorted(p for p in where.iterdir() if p.is_file()) if where.is_dir() else [where]
    return TrustStore(b"\n".join(p.read_bytes() for p in files), f"the ca_bundle {path}")


@functools.cache
def shipped_intermediates() -> tuple[x509.Certificate, ...]:
    """The certificates in ``nepse_ray/nepse/certs/`` named by :data:`SHIPPED_INTERMEDIATES`."""
    folder = resources.files("nepse_ray.nepse").joinpath("certs")
    return tuple(x509.load_pem_x509_certificate(folder.joinpath(name).read_bytes()) for name in SHIPPED_INTERMEDIATES)


def ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    """The ``http://`` caIssuers URLs of ``cert``'s AIA extension, in order; none if it has no such extension.

    Other schemes (ldap, https) are left out: AIA is served over plain HTTP (RFC 5280 4.2.2.1), and the certificate
    it returns is checked by the chain it completes, not by the transport that brought it.
    """
    try:
        access = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        description.access_location.value
        for description in access
        if description.access_method == AuthorityInformationAccessOID.CA_ISSUERS
        and isinstance(description.access_location, x509.UniformResourceIdentifier)
        and description.access_location.value.lower().startswith("http://")
    ]


def read_certificates(body: bytes) -> list[x509.Certificate]:
    """The certificates in an AIA answer: DER (the usual ``.crt``), PEM, or a PKCS#7 bundle (``.p7c``), DER or PEM.

    Raises :class:`ChainError` if the body is none of these.
    """
    readers = (
        lambda data: [x509.load_der_x509_certificate(data)],
        x509.load_pem_x509_certificates,
        pkcs7.load_der_pkcs7_certificates,
        pkcs7.load_pem_pkcs7_certificates,
    )
    for read in readers:
        try:
            certs = read(body)
        except ValueError:
            continue
        if certs:
            return list(certs)
    raise ChainError(f"the answer ({len(body)} bytes) holds no certificate in DER, PEM or PKCS#7 form")


def names_issuer(cert: x509.Certificate, candidate: x509.Certificate) -> bool:
    """Whether ``candidate`` is the certificate ``cert`` names as its issuer: the issuer's name, and where both
    carry one, the authority key id equal to the candidate's subject key id. No signature is checked here."""
    if cert.issuer != candidate.subject:
        return False
    authority, subject = _authority_key_id(cert), _subject_key_id(candidate)
    return authority is None or subject is None or authority == subject


def pick_issuer(cert: x509.Certificate, candidates: Iterable[x509.Certificate]) -> x509.Certificate | None:
    """The candidate that issued ``cert``: it names itself the issuer (:func:`names_issuer`) and its key verifies
    ``cert``'s signature."""
    for candidate in candidates:
        if names_issuer(cert, candidate) and _signed_by(cert, candidate):
            return candidate
    return None


def pem_of(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def certificate_error(host: str, problem: str, trust: str) -> NepseCertificateError:
    """The error for a certificate nepse-ray will not accept: what went wrong, what is trusted, what to pass."""
    return NepseCertificateError(
        f"TLS verification failed for {host}: {problem}. nepse-ray trusts {trust}; pass ca_bundle= a PEM file "
        "holding the site's intermediate and its root (or, knowingly, verify=False)"
    )


def verification_failure(error: BaseException) -> ssl.SSLCertVerificationError | None:
    """The ``ssl.SSLCertVerificationError`` behind a requests or urllib3 error, if a certificate check caused it."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        if isinstance(current, ssl.SSLCertVerificationError):
            return current
        seen.add(id(current))
        pending.extend((current.__cause__, current.__context__, getattr(current, "reason", None), *current.args))
    return None


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _authority_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def _subject_key_id(cert: x509.Certificate) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _der_blocks(pem: bytes) -> Iterable[bytes]:
    for match in _PEM_BLOCK.finditer(pem):
        try:
            yield base64.b64decode(b"".join(match.group(1).split()), validate=True)
        except binascii.Error:
            continue


def general_name(host: str) -> x509.IPAddress | x509.DNSName:
    """``host`` as a certificate names it: an IP address, or else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _names(certs: Sequence[x509.Certificate]) -> str:
    return ", ".join(repr(cert.subject.rfc4514_string()) for cert in certs)
