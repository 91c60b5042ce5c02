"""TLS material for the message bus: a CA, the server certificate and client certificates.

The names follow real BOSH: the server is ``default.nats.bosh-internal`` (a real agent
refuses a server whose common name does not match ``*.nats.bosh-internal``), the director
``default.director.bosh-internal``, the health monitor ``default.hm.bosh-internal`` and
each agent ``<agent_id>.agent.bosh-internal``. nats-server's ``verify_and_map`` turns a
client certificate's subject into a user name, so client certificates carry no subject
alternative names (those would be tried first) and :func:`nats_user` spells the subject
the way nats-server does.

Keys are ECDSA P-256: issuing one per VM must stay cheap when hundreds of VMs start.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CA_COMMON_NAME",
    "DIRECTOR_COMMON_NAME",
    "HEALTH_MONITOR_COMMON_NAME",
    "SERVER_COMMON_NAME",
    "CertificateAuthority",
    "MbusCert",
    "agent_common_name",
    "agent_environment",
    "client_ssl_context",
    "nats_user",
    "validate_agent_id",
]

CA_COMMON_NAME = "default.nats-ca.bosh-internal"
SERVER_COMMON_NAME = "default.nats.bosh-internal"
DIRECTOR_COMMON_NAME = "default.director.bosh-internal"
HEALTH_MONITOR_COMMON_NAME = "default.hm.bosh-internal"

_ORGANIZATION = "Cloud Foundry"
# cryptography accepts only two-letter countries; real BOSH writes "USA". Both sides of
# our bus use this value, and nats_user() spells it the same way.
_COUNTRY = "US"
_CA_LIFETIME = datetime.timedelta(days=3650)
_LEAF_LIFETIME = datetime.timedelta(days=365)
# What a real agent accepts as the server's common name (bosh-agent's NATS handler).
_SERVER_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9*\-]*\.nats\.bosh-internal$")
# Agent ids become NATS subject tokens and nats-server config strings: one token, no
# wildcards, nothing to quote.
_AGENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


@attrs.frozen
class MbusCert:
    """PEM material a bus client presents: ``env.bosh.mbus.cert`` in agent settings."""

    ca: str
    certificate: str
    private_key: str = attrs.field(repr=False)


def agent_environment(cert: MbusCert) -> dict[str, Any]:
    """The ``env`` of agent settings (and of a CPI's create_vm) that carries `cert`."""
    return {
        "bosh": {
            "mbus": {
                "cert": {
                    "ca": cert.ca,
                    "certificate": cert.certificate,
                    "private_key": cert.private_key,
                }
            }
        }
    }


def validate_agent_id(agent_id: str) -> str:
    """`agent_id` if it is safe as one NATS subject token; ValueError otherwise."""
    if not _AGENT_ID_PATTERN.fullmatch(agent_id):
        raise ValueError(
            f"agent id {agent_id!r} must be 1-128 letters, digits, '-' or '_' "
            "(it becomes a NATS subject token)"
        )
    return agent_id


def agent_common_name(agent_id: str) -> str:
    return f"{validate_agent_id(agent_id)}.agent.bosh-internal"


def nats_user(common_name: str) -> str:
    """The user name nats-server's ``verify_and_map`` derives from a client subject."""
    return _subject(common_name).rfc4514_string()


def _subject(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, _COUNTRY),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_cert(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


class CertificateAuthority:
    """Issues the bus's server and client certificates; its key never leaves the object."""

    def __init__(self, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self._certificate = certificate
        self._key = key
        self.certificate_pem = _pem_cert(certificate)

    def __repr__(self) -> str:
        return f"CertificateAuthority({self._certificate.subject.rfc4514_string()!r})"

    @classmethod
    def generate(cls, common_name: str = CA_COMMON_NAME) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = _subject(common_name)
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @classmethod
    def from_pem(cls, certificate: str, private_key: str) -> CertificateAuthority:
        key = serialization.load_pem_private_key(private_key.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the bus CA key must be an EC key")
        return cls(x509.load_pem_x509_certificate(certificate.encode()), key)

    def private_key_pem(self) -> str:
        """The CA key as PEM, for the caller to store with owner-only permissions."""
        return _pem_key(self._key)

    def issue_server(
        self, names: Sequence[str], *, common_name: str = SERVER_COMMON_NAME
    ) -> MbusCert:
        """The nats-server certificate; `names` (IPs or DNS names) are the addresses
        clients dial, added as subject alternative names."""
        alternative: list[x509.GeneralName] = [x509.DNSName(common_name)]
        for name in names:
            try:
                alternative.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alternative.append(x509.DNSName(name))
        return self._issue(
            common_name,
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            alternative_names=alternative,
        )

    def issue_client(self, common_name: str) -> MbusCert:
        return self._issue(common_name, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

    def issue_agent(self, agent_id: str) -> MbusCert:
        return self.issue_client(agent_common_name(agent_id))

    def _issue(
        self,
        common_name: str,
        *,
        usage: x509.ObjectIdentifier,
        alternative_names: Sequence[x509.GeneralName] = (),
    ) -> MbusCert:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_subject(common_name))
            .issuer_name(self._certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + _LEAF_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
        )
        if alternative_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(list(alternative_names)), critical=False
            )
        certificate = builder.sign(self._key, hashes.SHA256())
        return MbusCert(
            ca=self.certificate_pem, certificate=_pem_cert(certificate), private_key=_pem_key(key)
        )


class _BoshServerNameCheck(ssl.SSLObject):
    """Accepts a server only if its certificate's common name is ``*.nats.bosh-internal``.

    This is the check a real agent makes instead of matching the dialled address, so one
    server certificate serves every address the bus is reached on (bridge, loopback).
    """

    def do_handshake(self) -> None:
        super().do_handshake()
        peer: Any = self.getpeercert()
        names = [
            value
            for rdn in (peer or {}).get("subject", ())
            for key, value in rdn
            if key == "commonName"
        ]
        if not any(_SERVER_NAME_PATTERN.fullmatch(name) for name in names):
            raise ssl.SSLCertVerificationError(
                "server certificate common name does not match *.nats.bosh-internal"
            )


def client_ssl_context(cert: MbusCert) -> ssl.SSLContext:
    """A TLS context for a bus client: trusts only the bus CA, presents `cert`, and
    checks the server's common name as a real agent does."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cadata=cert.ca)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_REQUIRED
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.sslobject_class = _BoshServerNameCheck
    _load_cert_chain(context, cert)
    return context


def _load_cert_chain(context: ssl.SSLContext, cert: MbusCert) -> None:
    # ssl only loads key material from files; a private temporary directory keeps the key
    # out of world-readable places and is removed at once.
    with tempfile.TemporaryDirectory(prefix="bosh-mbus-") as directory:
        certificate = Path(directory) / "cert.pem"
        key = Path(directory) / "key.pem"
        certificate.write_text(cert.certificate)
        key.touch(mode=0o600)
        key.write_text(cert.private_key)
        context.load_cert_chain(certificate, key)
