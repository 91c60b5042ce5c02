from __future__ import annotations

import ssl

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from bosh_core.bus.certs import (
    SERVER_COMMON_NAME,
    CertificateAuthority,
    agent_common_name,
    client_ssl_context,
    nats_user,
    validate_agent_id,
)


def test_agent_certificate_subject_and_usage() -> None:
    ca = CertificateAuthority.generate()
    cert = ca.issue_agent("a-1")
    parsed = x509.load_pem_x509_certificate(cert.certificate.encode())
    assert parsed.subject.rfc4514_string() == nats_user("a-1.agent.bosh-internal")
    assert nats_user("a-1.agent.bosh-internal") == "CN=a-1.agent.bosh-internal,O=Cloud Foundry,C=US"
    usage = parsed.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    # verify_and_map tries SANs before the subject: client certs must have none.
    with pytest.raises(x509.ExtensionNotFound):
        parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert parsed.issuer == x509.load_pem_x509_certificate(cert.ca.encode()).subject


def test_server_certificate_names() -> None:
    cert = CertificateAuthority.generate().issue_server(["10.244.0.1", "nats.example"])
    parsed = x509.load_pem_x509_certificate(cert.certificate.encode())
    names = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["10.244.0.1"]
    assert names.get_values_for_type(x509.DNSName) == [SERVER_COMMON_NAME, "nats.example"]
    cn = parsed.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert cn == "default.nats.bosh-internal"


def test_private_keys_stay_out_of_reprs() -> None:
    ca = CertificateAuthority.generate()
    cert = ca.issue_agent("a1")
    assert "PRIVATE KEY" in cert.private_key
    assert "PRIVATE" not in repr(cert)
    assert "PRIVATE" not in repr(ca)


def test_ca_round_trips_through_pem() -> None:
    ca = CertificateAuthority.generate()
    again = CertificateAuthority.from_pem(ca.certificate_pem, ca.private_key_pem())
    issued = x509.load_pem_x509_certificate(again.issue_agent("a1").certificate.encode())
    issued.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.certificate_pem.encode()))


@pytest.mark.parametrize("bad", ["", "a.b", "a*", "a>", "a b", 'a"', "x" * 129])
def test_agent_ids_must_be_one_subject_token(bad: str) -> None:
    with pytest.raises(ValueError, match="subject token"):
        agent_common_name(bad)


def test_uuid_agent_ids_are_accepted() -> None:
    assert validate_agent_id("3b4a8c2e-1f0d-4c1e-9a7b-2d5e6f708192")


def test_client_context_requires_a_verified_server() -> None:
    context = client_ssl_context(CertificateAuthority.generate().issue_agent("a1"))
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.get_ca_certs()[0]["subject"][-1] == (
        ("commonName", "default.nats-ca.bosh-internal"),
    )
