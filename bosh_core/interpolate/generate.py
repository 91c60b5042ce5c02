"""Values a vars store generates: passwords, certificates, SSH and RSA keys.

Made as the reference's config-server generators make them: passwords of ``[a-z0-9]``
(20 by default); certificates with RSA keys (3072 bits by default) in PKCS#1 PEM, subject
``C=US, O=Cloud Foundry, CN=<common_name>``, a CA marked ``CA:TRUE`` for certificate and
CRL signing, a leaf ``CA:FALSE`` for digital signature and key encipherment, its
alternative names split into IP addresses and DNS names, and the subject key id the SHA-1
of the key's modulus; SSH keys (RSA 2048) with an ``ssh-rsa`` public key and its MD5
fingerprint; RSA key pairs (2048) with a PEM public key.

``cryptography`` is imported inside the functions that need it, so interpolating without a
vars store never loads it.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from bosh_core.interpolate.errors import InterpolateError, WrappedError

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "DEFAULT_CERTIFICATE_DAYS",
    "DEFAULT_CERTIFICATE_KEY_BITS",
    "DEFAULT_PASSWORD_LENGTH",
    "CertificateAuthority",
    "CertificateParams",
    "generate_certificate",
    "generate_password",
    "generate_rsa_key",
    "generate_ssh_key",
    "parse_certificate_authority",
]

DEFAULT_PASSWORD_LENGTH = 20
DEFAULT_CERTIFICATE_DAYS = 365
DEFAULT_CERTIFICATE_KEY_BITS = 3072
_CERTIFICATE_KEY_BITS = (2048, 3072, 4096)
_KEY_PAIR_BITS = 2048  # ssh and rsa: fixed, as in the reference
_PASSWORD_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_PEM_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[^\r\n]*?)-----\r?\n(?P<body>.*?)-----END (?P=label)-----", re.DOTALL
)


def generate_password(*, length: int = 0) -> str:
    """`length` characters of ``[a-z0-9]`` (0 means the default, 20)."""
    if length < 0:
        raise InterpolateError("Failed to generate password, 'length' param cannot be negative")
    count = length or DEFAULT_PASSWORD_LENGTH
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(count))


class CertificateParams(NamedTuple):
    """The options of a ``type: certificate`` variable, as the reference reads them."""

    common_name: str = ""
    organization: str = ""
    alternative_names: tuple[str, ...] = ()
    is_ca: bool = False
    ca: str = ""
    """Name of the variable holding the CA that signs this certificate."""
    extended_key_usage: tuple[str, ...] = ()
    duration: int = 0
    """Days of validity; 0 or less means the default, 365."""
    key_length: int = 0
    """RSA key bits: 2048, 3072 or 4096; 0 means the default, 3072."""


class CertificateAuthority(NamedTuple):
    """A CA loaded from a variable, ready to sign."""

    certificate: x509.Certificate
    private_key: RSAPrivateKey


def generate_certificate(
    params: CertificateParams, *, load_ca: Callable[[str], CertificateAuthority]
) -> dict[str, str]:
    """A certificate, its key and its CA as PEM, keyed as the reference stores them.

    `load_ca` gives the CA variable named by ``params.ca``; its failures are wrapped in
    ``Loading certificates``. Checks fail in the reference's order.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key_bits = params.key_length or DEFAULT_CERTIFICATE_KEY_BITS
    if key_bits not in _CERTIFICATE_KEY_BITS:
        allowed = " ".join(str(bits) for bits in _CERTIFICATE_KEY_BITS)
        raise InterpolateError(f"Invalid key_length: {key_bits}.  Must be one of: [{allowed}]")
    issuer: CertificateAuthority | None = None
    if params.ca:
        try:
            issuer = load_ca(params.ca)
        except InterpolateError as error:
            raise WrappedError("Loading certificates", error) from None
    if issuer is None and not params.is_ca:
        raise InterpolateError("Missing required CA name")
    usages = {
        "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
        "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    }
    extended_usages = []
    if not params.is_ca:
        for usage in params.extended_key_usage or ("server_auth",):
            if usage not in usages:
                raise InterpolateError(f"Unsupported extended key usage value: {usage}")
            extended_usages.append(usages[usage])

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=key_bits)
    key_id = _modulus_sha1(private_key)
    subject = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, params.organization or "Cloud Foundry"),
    ]
    if params.common_name:
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, params.common_name))
    subject_name = x509.Name(subject)
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    days = params.duration if params.duration > 0 else DEFAULT_CERTIFICATE_DAYS
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer.certificate.subject if issuer else subject_name)
        .public_key(private_key.public_key())
        .serial_number(1 + secrets.randbelow((1 << 128) - 1))
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    # Extensions in the order Go's x509.CreateCertificate writes them.
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not params.is_ca,
            content_commitment=False,
            key_encipherment=not params.is_ca,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=params.is_ca,
            crl_sign=params.is_ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if extended_usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_usages), critical=False)
    builder = builder.add_extension(
        x509.BasicConstraints(ca=params.is_ca, path_length=None), critical=True
    )
    builder = builder.add_extension(x509.SubjectKeyIdentifier(key_id), critical=False)
    authority_key_id = _subject_key_id(issuer.certificate) if issuer else key_id
    if authority_key_id:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier(authority_key_id, None, None), critical=False
        )
    if not params.is_ca and params.alternative_names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([_general_name(name) for name in params.alternative_names]),
            critical=False,
        )
    signing_key = issuer.private_key if issuer else private_key
    if issuer and issuer.certificate.public_key() != signing_key.public_key():
        raise WrappedError(
            "Generating CA certificate" if params.is_ca else "Generating certificate",
            InterpolateError("x509: provided PrivateKey doesn't match parent's PublicKey"),
        )
    certificate = builder.sign(signing_key, hashes.SHA256())
    ca_certificate = issuer.certificate if issuer else certificate
    return {
        "certificate": _certificate_pem(certificate),
        "private_key": _private_key_pem(private_key),
        "ca": _certificate_pem(ca_certificate),
    }


def generate_ssh_key() -> dict[str, str]:
    """An RSA key with its OpenSSH public key (``ssh-rsa ...``) and MD5 fingerprint."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_PAIR_BITS)
    public_key = private_key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    blob = base64.b64decode(public_key.split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return {
        "private_key": _private_key_pem(private_key),
        "public_key": public_key.decode() + "\n",
        "public_key_fingerprint": ":".join(digest[i : i + 2] for i in range(0, len(digest), 2)),
    }


def generate_rsa_key() -> dict[str, str]:
    """An RSA key pair: PKCS#1 private key and SubjectPublicKeyInfo public key, in PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_PAIR_BITS)
    public_key = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {"private_key": _private_key_pem(private_key), "public_key": public_key.decode()}


def parse_certificate_authority(certificate_pem: str, private_key_pem: str) -> CertificateAuthority:
    """The first PEM certificate and PKCS#1 RSA key in the texts, as the reference reads a CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    certificate_der = _pem_decode(certificate_pem)
    if certificate_der is None:
        raise InterpolateError("Certificate did not contain PEM formatted block")
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except ValueError:
        raise WrappedError(
            "Parsing certificate", InterpolateError("x509: malformed certificate")
        ) from None
    key_der = _pem_decode(private_key_pem)
    if key_der is None:
        raise InterpolateError("Private key did not contain PEM formatted block")
    try:
        key = serialization.load_der_private_key(key_der, password=None)
    except (ValueError, TypeError):
        key = None
    # Go's ParsePKCS1PrivateKey takes PKCS#1 RSA keys only and names the parser to use.
    if isinstance(key, rsa.RSAPrivateKey) and _pkcs1_der(key) == key_der:
        return CertificateAuthority(certificate=certificate, private_key=key)
    problem = "x509: failed to parse private key"
    if isinstance(key, ec.EllipticCurvePrivateKey) and _pkcs8_der(key) != key_der:
        problem += " (use ParseECPrivateKey instead for this key format)"
    elif key is not None:
        problem += " (use ParsePKCS8PrivateKey instead for this key format)"
    raise WrappedError("Parsing private key", InterpolateError(problem))


def _pem_decode(text: str) -> bytes | None:
    """The bytes of the first well-formed PEM block in `text` (Go's pem.Decode)."""
    for match in _PEM_BLOCK.finditer(text):
        try:
            return base64.b64decode("".join(match.group("body").split()), validate=True)
        except ValueError:
            continue
    return None


def _pkcs1_der(key: RSAPrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _pkcs8_der(key: EllipticCurvePrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _private_key_pem(key: RSAPrivateKey) -> str:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def _certificate_pem(certificate: x509.Certificate) -> str:
    from cryptography.hazmat.primitives import serialization

    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _modulus_sha1(key: RSAPrivateKey) -> bytes:
    """The reference's subject key id: SHA-1 of the modulus's big-endian bytes."""
    modulus = key.public_key().public_numbers().n
    return hashlib.sha1(
        modulus.to_bytes((modulus.bit_length() + 7) // 8, "big"), usedforsecurity=False
    ).digest()


def _subject_key_id(certificate: x509.Certificate) -> bytes:
    from cryptography import x509

    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return b""
    return extension.value.digest


def _general_name(name: str) -> x509.GeneralName:
    """An IP address SAN when Go's net.ParseIP reads `name` as one, else a DNS name."""
    from cryptography import x509

    if "%" not in name:  # Go takes no IPv6 zones
        try:
            return x509.IPAddress(ipaddress.ip_address(name))
        except ValueError:
            pass
    return x509.DNSName(name)
