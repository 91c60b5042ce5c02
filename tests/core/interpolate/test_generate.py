"""Generated values have the reference's shapes, and certificates verify."""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import re
import subprocess
import sys
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store

from bosh_core.interpolate import generate
from bosh_core.interpolate.errors import InterpolateError, WrappedError
from bosh_core.interpolate.generate import CertificateAuthority, CertificateParams

PKCS1_PEM = re.compile(
    r"-----BEGIN RSA PRIVATE KEY-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END RSA PRIVATE KEY-----\n"
)
CERTIFICATE_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----\n(?:[A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n"
)


def no_ca(name: str) -> CertificateAuthority:
    raise AssertionError(f"no CA expected, asked for {name!r}")


def authority(generated: dict[str, str]) -> CertificateAuthority:
    return generate.parse_certificate_authority(generated["certificate"], generated["private_key"])


@pytest.fixture(scope="module")
def root_ca() -> dict[str, str]:
    return generate.generate_certificate(
        CertificateParams(is_ca=True, common_name="root"), load_ca=no_ca
    )


@pytest.fixture(scope="module")
def small_ca() -> dict[str, str]:
    return generate.generate_certificate(
        CertificateParams(is_ca=True, common_name="small", key_length=2048), load_ca=no_ca
    )


def leaf(ca: dict[str, str], **options: Any) -> dict[str, str]:
    params = CertificateParams(ca="the-ca", key_length=2048, **options)
    return generate.generate_certificate(params, load_ca=lambda name: authority(ca))


def certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.Extension[Any]:
    return cert.extensions.get_extension_for_class(kind)


def rsa_public_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    return public_key


def modulus_sha1(cert: x509.Certificate) -> bytes:
    modulus = rsa_public_key(cert).public_numbers().n
    return hashlib.sha1(modulus.to_bytes((modulus.bit_length() + 7) // 8, "big")).digest()


# -- passwords ----------------------------------------------------------------------------


def test_a_password_is_twenty_lowercase_letters_and_digits() -> None:
    passwords = {generate.generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert re.fullmatch(r"[a-z0-9]{20}", password)


def test_a_password_takes_its_length_from_the_options() -> None:
    assert re.fullmatch(r"[a-z0-9]{7}", generate.generate_password(length=7))
    assert len(generate.generate_password(length=0)) == 20


def test_a_negative_password_length_is_refused() -> None:
    with pytest.raises(InterpolateError) as caught:
        generate.generate_password(length=-1)
    assert str(caught.value) == "Failed to generate password, 'length' param cannot be negative"


# -- certificates -------------------------------------------------------------------------


def test_a_ca_signs_itself_for_certificates_and_crls(root_ca: dict[str, str]) -> None:
    assert list(root_ca) == ["certificate", "private_key", "ca"]
    assert root_ca["ca"] == root_ca["certificate"]
    assert CERTIFICATE_PEM.fullmatch(root_ca["certificate"])
    assert PKCS1_PEM.fullmatch(root_ca["private_key"])
    cert = certificate(root_ca["certificate"])

    assert cert.subject.rfc4514_string() == "CN=root,O=Cloud Foundry,C=US"
    assert cert.issuer == cert.subject
    assert rsa_public_key(cert).key_size == 3072
    constraints = extension(cert, x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca is True
    assert constraints.value.path_length is None
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    assert not usage.value.key_encipherment
    with pytest.raises(x509.ExtensionNotFound):
        extension(cert, x509.ExtendedKeyUsage)
    key_id = modulus_sha1(cert)
    assert extension(cert, x509.SubjectKeyIdentifier).value.digest == key_id
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == key_id
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=365)
    assert abs(
        cert.not_valid_before_utc - datetime.datetime.now(datetime.UTC)
    ) < datetime.timedelta(minutes=5)
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    assert 0 < cert.serial_number < 1 << 128


def test_a_leaf_certificate_chains_to_its_ca(small_ca: dict[str, str]) -> None:
    generated = leaf(
        small_ca,
        common_name="web.example",
        alternative_names=("web.example", "10.0.0.7", "*.web.example", "fd00::1"),
    )
    assert list(generated) == ["certificate", "private_key", "ca"]
    assert generated["ca"] == small_ca["certificate"]
    cert = certificate(generated["certificate"])
    ca_cert = certificate(small_ca["certificate"])

    assert cert.subject.rfc4514_string() == "CN=web.example,O=Cloud Foundry,C=US"
    assert cert.issuer == ca_cert.subject
    rsa_public_key(ca_cert).verify(
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    verifier = (
        PolicyBuilder().store(Store([ca_cert])).build_server_verifier(x509.DNSName("web.example"))
    )
    chain = verifier.verify(cert, [])
    assert chain[-1] == ca_cert

    names = extension(cert, x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["web.example", "*.web.example"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("10.0.0.7"),
        ipaddress.ip_address("fd00::1"),
    ]
    assert extension(cert, x509.BasicConstraints).value.ca is False
    usage = extension(cert, x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.key_encipherment
    assert not usage.key_cert_sign
    assert list(extension(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert extension(cert, x509.SubjectKeyIdentifier).value.digest == modulus_sha1(cert)
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == modulus_sha1(
        ca_cert
    )


def test_leaf_options_extended_key_usage_duration_and_organization(
    small_ca: dict[str, str],
) -> None:
    generated = leaf(
        small_ca,
        extended_key_usage=("client_auth", "server_auth"),
        duration=30,
        organization="Acme",
    )
    cert = certificate(generated["certificate"])

    assert list(extension(cert, x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH,
        ExtendedKeyUsageOID.SERVER_AUTH,
    ]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == datetime.timedelta(days=30)
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme"
    assert not cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    with pytest.raises(x509.ExtensionNotFound):
        extension(cert, x509.SubjectAlternativeName)


def test_an_intermediate_ca_is_signed_by_its_root_and_names_the_root_as_ca(
    small_ca: dict[str, str],
) -> None:
    generated = leaf(small_ca, is_ca=True, common_name="intermediate")
    cert = certificate(generated["certificate"])
    ca_cert = certificate(small_ca["certificate"])

    assert generated["ca"] == small_ca["certificate"]
    assert cert.issuer == ca_cert.subject
    assert extension(cert, x509.BasicConstraints).value.ca is True
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == modulus_sha1(
        ca_cert
    )
    cert.verify_directly_issued_by(ca_cert)


def test_a_key_length_may_be_asked_for(small_ca: dict[str, str]) -> None:
    cert = certificate(small_ca["certificate"])
    assert rsa_public_key(cert).key_size == 2048
    private_key = serialization.load_pem_private_key(small_ca["private_key"].encode(), None)
    assert private_key.public_key() == cert.public_key()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            CertificateParams(key_length=1024),
            "Invalid key_length: 1024.  Must be one of: [2048 3072 4096]",
        ),
        (CertificateParams(common_name="leaf"), "Missing required CA name"),
        # The key length is checked before the CA is asked for.
        (
            CertificateParams(ca="x", key_length=1),
            "Invalid key_length: 1.  Must be one of: [2048 3072 4096]",
        ),
    ],
)
def test_certificate_options_that_cannot_work(params: CertificateParams, message: str) -> None:
    with pytest.raises(InterpolateError) as caught:
        generate.generate_certificate(params, load_ca=no_ca)
    assert str(caught.value) == message


def test_an_unknown_extended_key_usage_is_refused(small_ca: dict[str, str]) -> None:
    with pytest.raises(InterpolateError) as caught:
        leaf(small_ca, extended_key_usage=("code_signing",))
    assert str(caught.value) == "Unsupported extended key usage value: code_signing"


def test_a_ca_that_cannot_be_loaded_is_wrapped() -> None:
    def failing(name: str) -> CertificateAuthority:
        raise InterpolateError(f"Expected to find variable '{name}' with a certificate")

    with pytest.raises(WrappedError) as caught:
        generate.generate_certificate(CertificateParams(ca="root"), load_ca=failing)
    assert str(caught.value) == (
        "Loading certificates:\n  Expected to find variable 'root' with a certificate"
    )


def test_a_ca_whose_key_does_not_match_its_certificate_cannot_sign(
    root_ca: dict[str, str], small_ca: dict[str, str]
) -> None:
    mismatched = generate.parse_certificate_authority(
        root_ca["certificate"], small_ca["private_key"]
    )
    with pytest.raises(WrappedError) as caught:
        generate.generate_certificate(
            CertificateParams(ca="x", key_length=2048), load_ca=lambda name: mismatched
        )
    assert str(caught.value) == (
        "Generating certificate:\n  x509: provided PrivateKey doesn't match parent's PublicKey"
    )


# -- reading a CA -------------------------------------------------------------------------


def test_a_ca_is_read_from_the_first_pem_block(small_ca: dict[str, str]) -> None:
    loaded = generate.parse_certificate_authority(
        "leading text\n" + small_ca["certificate"] + small_ca["ca"], small_ca["private_key"]
    )
    assert loaded.certificate == certificate(small_ca["certificate"])


def pkcs8(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def ec_key() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("certificate_text", "key_text", "message"),
    [
        ("", None, "Certificate did not contain PEM formatted block"),
        (
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            None,
            "Parsing certificate:\n  x509: malformed certificate",
        ),
        (None, "not pem", "Private key did not contain PEM formatted block"),
        (
            None,
            "pkcs8",
            "Parsing private key:\n  x509: failed to parse private key"
            " (use ParsePKCS8PrivateKey instead for this key format)",
        ),
        (
            None,
            "ec",
            "Parsing private key:\n  x509: failed to parse private key"
            " (use ParseECPrivateKey instead for this key format)",
        ),
        (
            None,
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            "Parsing private key:\n  x509: failed to parse private key",
        ),
    ],
)
def test_a_ca_that_is_not_a_pem_certificate_and_pkcs1_key(
    small_ca: dict[str, str], certificate_text: str | None, key_text: str | None, message: str
) -> None:
    key = {"pkcs8": pkcs8(small_ca["private_key"]), "ec": ec_key()}.get(
        key_text or "", key_text or small_ca["private_key"]
    )
    with pytest.raises(InterpolateError) as caught:
        generate.parse_certificate_authority(
            small_ca["certificate"] if certificate_text is None else certificate_text, key
        )
    assert str(caught.value) == message


# -- ssh and rsa keys ---------------------------------------------------------------------


def test_an_ssh_key_has_an_openssh_public_key_and_its_md5_fingerprint() -> None:
    generated = generate.generate_ssh_key()
    assert list(generated) == ["private_key", "public_key", "public_key_fingerprint"]
    assert PKCS1_PEM.fullmatch(generated["private_key"])
    assert generated["public_key"].startswith("ssh-rsa ")
    assert generated["public_key"].endswith("\n")

    private_key = serialization.load_pem_private_key(generated["private_key"].encode(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    public_key = serialization.load_ssh_public_key(generated["public_key"].encode())
    assert public_key == private_key.public_key()
    blob = base64.b64decode(generated["public_key"].split()[1])
    digest = hashlib.md5(blob).hexdigest()
    assert generated["public_key_fingerprint"] == ":".join(
        digest[i : i + 2] for i in range(0, 32, 2)
    )
    assert re.fullmatch(r"([0-9a-f]{2}:){15}[0-9a-f]{2}", generated["public_key_fingerprint"])


def test_an_rsa_key_pair_is_pkcs1_private_and_pkix_public() -> None:
    generated = generate.generate_rsa_key()
    assert list(generated) == ["private_key", "public_key"]
    assert PKCS1_PEM.fullmatch(generated["private_key"])
    assert generated["public_key"].startswith("-----BEGIN PUBLIC KEY-----\n")
    private_key = serialization.load_pem_private_key(generated["private_key"].encode(), None)
    assert isinstance(private_key, rsa.RSAPrivateKey)
    assert private_key.key_size == 2048
    assert serialization.load_pem_public_key(generated["public_key"].encode()) == (
        private_key.public_key()
    )


def test_each_generation_is_new() -> None:
    assert generate.generate_rsa_key() != generate.generate_rsa_key()


def test_interpolating_does_not_import_cryptography() -> None:
    code = (
        "import sys\n"
        "import bosh_core.interpolate.template, bosh_core.interpolate.variables\n"
        "import bosh_core.interpolate.generate\n"
        "print(sorted(name for name in sys.modules if name.startswith('cryptography')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
