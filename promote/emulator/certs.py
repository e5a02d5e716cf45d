"""A throwaway certificate authority and a server certificate for 127.0.0.1 / localhost.

The Azure SDK's bearer-token policy refuses to send a token over plain http, so the emulator speaks HTTPS and
clients trust it with `connection_verify=<ca file>` (no `enforce_https` tricks). Both certificates are kept in
the state directory and reused while valid, so a client configured once keeps working across restarts; keys
are EC P-256 because generating them is instant.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server-key.pem"

_VALIDITY = dt.timedelta(days=825)
_RENEW_BEFORE = dt.timedelta(days=30)


@dataclass(frozen=True)
class CertificatePaths:
    ca: Path  # give this to clients (connection_verify / REQUESTS_CA_BUNDLE)
    cert: Path
    key: Path


def ensure_certificates(directory: Path) -> CertificatePaths:
    """The CA and server certificate in `directory`, generated when absent or about to expire."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = CertificatePaths(directory / CA_FILE, directory / SERVER_CERT_FILE, directory / SERVER_KEY_FILE)
    if all(p.exists() for p in (paths.ca, paths.cert, paths.key, directory / CA_KEY_FILE)) and _still_valid(paths.cert):
        return paths
    _generate(directory, paths)
    return paths


def _still_valid(cert_file: Path) -> bool:
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    except (ValueError, OSError):
        return False
    return cert.not_valid_after_utc - dt.datetime.now(dt.timezone.utc) > _RENEW_BEFORE


def _write_private(path: Path, data: bytes) -> None:
    """Write a key readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    """A certificate of `subject` signed by `issuer`, with a random serial, valid for `_VALIDITY` from `now`."""
    from cryptography import x509

    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + _VALIDITY)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """Signatures for both; the CA also signs certificates and CRLs, the server also agrees keys (ECDHE)."""
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not ca,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _generate(directory: Path, paths: CertificatePaths) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "adf-promote emulator local CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    server_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    cert = (
        _builder(server_name, ca_name, key.public_key(), now)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    no_password = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8
    _write_private(directory / CA_KEY_FILE, ca_key.private_bytes(pem, pkcs8, no_password))
    _write_private(paths.key, key.private_bytes(pem, pkcs8, no_password))
    paths.cert.write_bytes(cert.public_bytes(pem))
    paths.ca.write_bytes(ca_cert.public_bytes(pem))
