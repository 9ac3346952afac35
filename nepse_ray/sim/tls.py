"""HTTPS for the simulator, with the real site's flaw: a certificate chain the server leaves incomplete.

``--tls incomplete-chain`` serves the API over HTTPS on loopback with a leaf certificate signed by an intermediate
that the server does not send, as nepalstock.com does with *GeoTrust TLS RSA CA G1*. The chain comes from a private
root made for each run (:class:`PrivatePKI`); the leaf's Authority Information Access (AIA) URL points at a
plain-HTTP endpoint on loopback that serves the intermediate, as DigiCert's does. A client that trusts the root
(``ca_bundle=`` the file the simulator writes) and completes chains through AIA verifies it; one that does neither
fails the way clients of the real site fail.

The certificates are made with ``cryptography`` (trustme issues no AIA extension), ECDSA P-256 so a run starts fast.

>>> pki = PrivatePKI.create()
>>> leaf, key = pki.issue_leaf("http://127.0.0.1:9/ca.crt", hosts=("127.0.0.1",))
>>> leaf.issuer == pki.intermediate.subject, pki.intermediate.issuer == pki.root.subject
(True, True)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, get_args

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from ..nepse.tls import general_name

TLSMode = Literal["incomplete-chain"]
#: The values of ``--tls`` (and of ``Simulator(tls=...)``).
TLS_MODES: tuple[str, ...] = get_args(TLSMode)

#: The file, in the run's directory, holding the private root to trust (``ca_bundle=``).
ROOT_FILE = "nepse-sim-root.pem"
#: The root and the intermediate together: what the simulator's own tools trust (its ``/_sim/*`` calls), so they
#: need no AIA. Clients under test get :data:`ROOT_FILE`.
CHAIN_FILE = "nepse-sim-chain.pem"
#: The path under which the AIA endpoint serves the intermediate (DER, as CAs serve ``.crt`` files).
AIA_PATH = "/nepse-sim-intermediate.crt"
#: Lines ``nepse-ray sim --tls`` prints after its banner; :class:`~nepse_ray.sim.process.SimulatorProcess` reads them.
ROOT_LINE = "trust this root (ca_bundle=): "
AIA_LINE = "AIA serves the intermediate at: "

_ORGANISATION = "nepse-ray simulator"


@dataclasses.dataclass(frozen=True)
class PrivatePKI:
    """A private root and an intermediate it signed, with their keys: enough to issue the simulator's leaf."""

    root: x509.Certificate
    intermediate: x509.Certificate
    intermediate_key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, now: dt.datetime | None = None) -> PrivatePKI:
        moment = now or dt.datetime.now(dt.timezone.utc)
        root_key, intermediate_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        root_name, intermediate_name = _name("NEPSE Simulator Root CA"), _name("NEPSE Simulator TLS CA")
        root = _certificate(root_name, root_name, root_key.public_key(), root_key, moment, days=365, ca=True)
        intermediate = _certificate(
            intermediate_name, root_name, intermediate_key.public_key(), root_key, moment, days=365, ca=True, depth=0
        )
        return cls(root, intermediate, intermediate_key)

    def issue_leaf(
        self, aia_url: str, hosts: Sequence[str], now: dt.datetime | None = None
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """A server certificate for ``hosts`` (IP addresses or names) signed by the intermediate, naming ``aia_url``
        as where its issuer can be fetched; and its key."""
        key = ec.generate_private_key(ec.SECP256R1())
        names = [general_name(host) for host in dict.fromkeys(hosts)]
        extensions: list[x509.ExtensionType] = [
            x509.SubjectAlternativeName(names),
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS, x509.UniformResourceIdentifier(aia_url)
                    )
                ]
            ),
        ]
        leaf = _certificate(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]),
            self.intermediate.subject,
            key.public_key(),
            self.intermediate_key,
            now or dt.datetime.now(dt.timezone.utc),
            days=30,
            ca=False,
            extensions=extensions,
        )
        return leaf, key

    def root_pem(self) -> bytes:
        return self.root.public_bytes(serialization.Encoding.PEM)

    def intermediate_der(self) -> bytes:
        return self.intermediate.public_bytes(serialization.Encoding.DER)


def server_context(leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> ssl.SSLContext:
    """A server context that presents ``leaf`` alone: the chain the site leaves incomplete."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="nepse-sim-leaf-") as folder:  # ssl loads keys from files only
        cert_file, key_file = Path(folder) / "leaf.pem", Path(folder) / "leaf.key"
        cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context.load_cert_chain(cert_file, key_file)
    return context


class TLSSite:
    """What a TLS simulator adds around its API server: the AIA endpoint, the server's context, the root's file.

    Start it with :meth:`start` before the API server (the leaf names the AIA endpoint's port), pass
    :attr:`ssl_context` to the API's site, :meth:`close` it after. The root is written to ``directory`` (a fresh
    temporary one, removed on close, if none is given).
    """

    def __init__(self, pki: PrivatePKI, directory: Path | None) -> None:
        self._pki = pki
        self._owns_directory = directory is None
        self.directory = Path(tempfile.mkdtemp(prefix="nepse-sim-tls-")) if directory is None else directory
        self.ca_bundle = self.directory / ROOT_FILE
        self.fetches = 0
        self.aia_url = ""
        self.ssl_context: ssl.SSLContext | None = None
        self._runner: web.AppRunner | None = None

    @classmethod
    async def start(cls, mode: TLSMode, host: str, directory: Path | None = None) -> TLSSite:
        """Serve ``mode`` (only ``"incomplete-chain"`` so far) for an API server on ``host``."""
        if mode not in TLS_MODES:
            raise ValueError(f"unknown TLS mode {mode!r}; choose from {', '.join(TLS_MODES)}")
        site = cls(PrivatePKI.create(), directory)
        try:
            await site._serve_aia(host)
        except BaseException:
            await site.close()
            raise
        return site

    async def _serve_aia(self, host: str) -> None:
        app = web.Application()
        app.router.add_get(AIA_PATH, self._intermediate)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, 0).start()
        aia_host, aia_port = self._runner.addresses[0][:2]
        self.aia_url = f"http://{_url_host(aia_host)}:{aia_port}{AIA_PATH}"
        leaf, key = self._pki.issue_leaf(self.aia_url, hosts=(host, "127.0.0.1", "localhost"))
        self.ssl_context = server_context(leaf, key)
        self.ca_bundle.write_bytes(self._pki.root_pem())
        intermediate = self._pki.intermediate.public_bytes(serialization.Encoding.PEM)
        (self.directory / CHAIN_FILE).write_bytes(self._pki.root_pem() + intermediate)

    async def _intermediate(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.Response(body=self._pki.intermediate_der(), content_type="application/pkix-cert")

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"fetches": self.fetches})

    def banner(self) -> str:
        """The lines printed after ``listening on``: where the root is, where AIA is."""
        return f"{ROOT_LINE}{self.ca_bundle}\n{AIA_LINE}{self.aia_url}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    signer: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
    *,
    days: int,
    ca: bool,
    depth: int | None = None,
    extensions: Sequence[x509.ExtensionType] = (),
) -> x509.Certificate:
    usage = dict.fromkeys(
        ("content_commitment", "key_encipherment", "data_encipherment", "key_agreement", "encipher_only"), False
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=depth), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=ca, crl_sign=ca, decipher_only=False, **usage),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(signer, hashes.SHA256())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
