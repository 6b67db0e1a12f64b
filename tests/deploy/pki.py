"""A certificate for the NATS nodes, as the production overlay expects Secret ``nats-tls``
(cert-manager's layout: ``tls.crt``, ``tls.key``, ``ca.crt``): signed by an authority made
here, naming what docs/operations.md says it must name (and 127.0.0.1, for the nodes a test
runs on this machine), good for server and client authentication (a route checks both
ends)."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["NODE_NAMES", "nats_tls_secret"]

# What the certificate names: the client Service and the pods under the headless Service,
# each short and qualified with the namespace (docs/operations.md).
NODE_NAMES = (
    "nats",
    "nats.procure.svc",
    "nats.procure.svc.cluster.local",
    "*.nats-headless",
    "*.nats-headless.procure.svc",
    "*.nats-headless.procure.svc.cluster.local",
    "localhost",
)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, authority: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=authority,
        crl_sign=authority,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def nats_tls_secret() -> dict[str, str]:
    """The keys of Secret ``nats-tls``: the nodes' certificate and key, and the authority's
    certificate (EC P-256, valid for a day)."""
    now = datetime.now(UTC)
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority = (
        x509.CertificateBuilder()
        .subject_name(_name("Procure deploy test CA"))
        .issuer_name(_name("Procure deploy test CA"))
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(authority=True), critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False
        )
        .sign(authority_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in NODE_NAMES]
    names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    node = (
        x509.CertificateBuilder()
        .subject_name(_name("nats"))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(authority=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return {"tls.crt": _pem(node), "tls.key": private, "ca.crt": _pem(authority)}
