"""Completing a chain the server left incomplete, as browsers do: the missing issuer fetched from the leaf's AIA URL.

A :class:`SiteTrust` is what :class:`~nepse_ray.nepse.transport.RequestsTransport` verifies with: one ``SSLContext``
per trust source and process (:func:`shared_trust`), so every client of a process (every token of a worker) shares
it and what it learns. When a handshake fails because an issuer is unknown, the transport calls
:meth:`SiteTrust.complete_chain`, then tries once more:

1. **Read the leaf.** Python's ``ssl`` gives no access to the certificates of a handshake that failed verification
   (``get_unverified_chain``, new in 3.13, needs a handshake that succeeded) and requests keeps only the error; so a
   second handshake is made with verification off (:func:`probe_leaf`), used only to read the server's certificate
   and closed right after, before anything is sent on it: no request, and so no token, ever crosses an unverified
   connection. What it yields is untrusted; only its issuer and AIA URL are read.
2. **Known already?** If the store holds the leaf's issuer (another thread of this process repaired a moment ago),
   there is nothing to fetch.
3. **Fetch.** The leaf's caIssuers URLs over plain HTTP (``fetch``: bounded by :data:`MAX_AIA_BYTES` and
   :data:`AIA_TIMEOUT`), one missing intermediate, the case of every site known to need it.
4. **Verify.** The fetched certificate must have issued the leaf (name, key id, signature), and the whole chain
   must verify to a root already in the store, for this host, now
   (:meth:`~nepse_ray.nepse.tls.TrustStore.verified_chain`). Only then does it join the context: an intermediate
   whose root the store trusts anyway.

Anything else raises :class:`~nepse_ray.nepse.errors.NepseCertificateError`, saying what failed and what to pass.
The network is injected (``read_leaf``, ``fetch``), so the algorithm is tested without sockets.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import ssl
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

from cryptography import x509

from .errors import NepseCertificateError, NepseError, NepseInputError
from .tls import (
    UNKNOWN_ISSUER_CODES,
    ChainError,
    TrustStore,
    bundle_trust,
    ca_issuer_urls,
    certificate_error,
    default_trust,
    pem_of,
    pick_issuer,
    read_certificates,
    verification_failure,
)

#: Largest AIA answer read; a CA certificate is 1 to 2 KiB, a PKCS#7 bundle of a few a little more.
MAX_AIA_BYTES = 64 * 1024
#: Seconds one AIA fetch may take in all (and never more than what is left of the request's own deadline).
AIA_TIMEOUT = 10.0

Fetch = Callable[[str], bytes]
#: ``fetch(url, seconds, max_bytes)``: a plain GET's body, within ``seconds``, at most ``max_bytes``.
BoundedFetch = Callable[[str, float, int], bytes]


class SiteTrust:
    """A trust store, the ``SSLContext`` that holds it, and the chains it learned through AIA in this process."""

    def __init__(self, store: TrustStore, *, now: Callable[[], dt.datetime] | None = None) -> None:
        self.store = store
        self.context = store.ssl_context()
        self._now = now or (lambda: dt.datetime.now(dt.timezone.utc))
        self._lock = threading.Lock()

    def missing_issuer(self, error: BaseException) -> bool:
        """Whether a handshake failed (``error``) only because the issuer of a certificate is not trusted."""
        cause = verification_failure(error)
        return cause is not None and cause.verify_code in UNKNOWN_ISSUER_CODES

    def refusal(self, url: str, error: BaseException) -> NepseCertificateError | None:
        """The error for a handshake that failed a certificate check (``error``), or ``None`` if it failed otherwise."""
        cause = verification_failure(error)
        if cause is None:
            return None
        problem = cause.verify_message or "the certificate was refused"
        if cause.verify_code in UNKNOWN_ISSUER_CODES:
            problem += " (even after completing the chain through AIA)"
        return certificate_error(urlsplit(url).hostname or url, problem, self.store.label)

    def complete_chain(
        self,
        url: str,
        *,
        connect_timeout: float,
        time_left: Callable[[], float],
        source_address: str | None,
        fetch: BoundedFetch,
    ) -> None:
        """:meth:`repair` for the server of ``url``: its leaf read within ``connect_timeout`` from
        ``source_address``, its issuer fetched within :data:`AIA_TIMEOUT` and :data:`MAX_AIA_BYTES`, all within
        ``time_left()`` seconds."""
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port or 443

        def seconds(cap: float) -> float:
            return max(min(cap, time_left()), 0.001)

        self.repair(
            host,
            read_leaf=lambda: probe_leaf(host, port, timeout=seconds(connect_timeout), source_address=source_address),
            fetch=lambda aia_url: fetch(aia_url, seconds(AIA_TIMEOUT), MAX_AIA_BYTES),
        )

    def repair(self, host: str, read_leaf: Callable[[], x509.Certificate], fetch: Fetch) -> None:
        """Complete the chain of ``host``'s certificate through AIA, and trust its intermediate from now on.

        ``read_leaf()`` returns the certificate the server presents; ``fetch(url)`` returns an AIA answer's body
        and raises :class:`NepseError` or :class:`ChainError` when it cannot. Repairs run one at a time, so a
        burst of failing requests fetches once. Raises :class:`NepseCertificateError` if the chain stays incomplete.
        """
        with self._lock:
            problem = self._repair(host, read_leaf, fetch)
        if problem is not None:
            raise certificate_error(host, problem, self.store.label)

    def _repair(self, host: str, read_leaf: Callable[[], x509.Certificate], fetch: Fetch) -> str | None:
        """``None`` once the chain can be completed, else what prevents it."""
        try:
            leaf = read_leaf()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError; ValueError: not a certificate
            return f"its certificate's issuer is unknown, and reading the certificate failed ({type(error).__name__})"
        if self.store.known_issuer(leaf) is not None:  # another thread learned it meanwhile
            return None
        try:
            self._learn(self._chase(leaf, host, fetch))
        except ChainError as error:
            return (
                f"the server did not send the certificate that issued its own ({leaf.issuer.rfc4514_string()}), "
                f"and AIA did not complete the chain: {error}"
            )
        return None

    def _chase(self, leaf: x509.Certificate, host: str, fetch: Fetch) -> x509.Certificate:
        """The intermediate that issued ``leaf``, fetched through AIA, once the chain through it verifies."""
        issuer = _fetch_issuer(leaf, fetch)
        try:
            self.store.verified_chain(leaf, [issuer], host, self._now())
        except ChainError as error:
            raise ChainError(f"{_name(issuer)} was fetched, but {error}") from None
        return issuer

    def _learn(self, intermediate: x509.Certificate) -> None:
        self.context.load_verify_locations(cadata=pem_of(intermediate).decode("ascii"))
        self.store = self.store.with_intermediates([intermediate])


def _fetch_issuer(cert: x509.Certificate, fetch: Fetch) -> x509.Certificate:
    """The certificate that issued ``cert``, from the first of its caIssuers URLs that serves it."""
    urls = ca_issuer_urls(cert)
    if not urls:
        raise ChainError(f"{_name(cert)} names no http:// caIssuers URL to fetch its issuer from")
    problems = []
    for url in urls:
        try:
            candidates = read_certificates(fetch(url))
        except (ChainError, NepseError) as error:
            problems.append(f"{url}: {error}")
            continue
        issuer = pick_issuer(cert, candidates)
        if issuer is not None:
            return issuer
        served = ", ".join(_name(candidate) for candidate in candidates)
        problems.append(f"{url} served {served}, which did not issue {_name(cert)}")
    raise ChainError("; ".join(problems))


def probe_leaf(host: str, port: int, *, timeout: float, source_address: str | None = None) -> x509.Certificate:
    """The certificate the server at ``host:port`` presents, read from a handshake with verification off.

    Only for finding the issuer of a certificate that failed verification: the connection is closed as soon as the
    handshake ends, and nothing is ever sent on it. Raises ``OSError`` (``ssl.SSLError`` included) on failure.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    bind = None if source_address is None else (source_address, 0)
    with (
        socket.create_connection((host, port), timeout=timeout, source_address=bind) as raw,
        context.wrap_socket(raw, server_hostname=host) as connection,
    ):
        der = connection.getpeercert(binary_form=True)
    if der is None:
        raise ssl.SSLError("the server presented no certificate")
    return x509.load_der_x509_certificate(der)


_SHARED: dict[str, SiteTrust] = {}
_SHARED_LOCK = threading.Lock()


def shared_trust(ca_bundle: str | None) -> SiteTrust:
    """This process's :class:`SiteTrust` for the default store (``None``) or for the CA bundle at ``ca_bundle``.

    One per trust source and process, so what one client learns through AIA, every client of the process uses.
    Bundles are told apart by their content, not their path.
    """
    store = None if ca_bundle is None else bundle_trust(ca_bundle)
    key = "default" if store is None else hashlib.sha256(store.anchors_pem).hexdigest()
    with _SHARED_LOCK:
        trust = _SHARED.get(key)
        if trust is None:
            try:
                trust = _SHARED[key] = SiteTrust(store or default_trust())
            except (ssl.SSLError, ValueError):  # OpenSSL found no certificate it can load in the bundle
                raise NepseInputError(
                    f"ca_bundle {ca_bundle!r} holds no certificate OpenSSL can load; pass a file of PEM certificates"
                ) from None
        return trust


def _name(cert: x509.Certificate) -> str:
    return repr(cert.subject.rfc4514_string())
