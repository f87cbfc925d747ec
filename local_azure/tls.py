"""A local CA (generated once per data dir) and a server certificate for 127.0.0.1/localhost.

azure-core refuses bearer tokens over plain http, so the ACS stand-in must speak HTTPS; clients
trust the CA via SSL_CERT_FILE / REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from local_azure.files import write_atomic, write_private
from local_azure.signing import load_rsa_key, new_rsa_key, pem_private_key


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the CA certificate (for clients) and the server certificate chain and key."""

    ca_cert: Path
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_cert))


def _ca(directory: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key_file, cert_file = directory / "ca-key.pem", directory / "ca.pem"
    if key_file.exists() and cert_file.exists():
        return load_rsa_key(key_file), x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = new_rsa_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "local_azure development CA")])
    now = dt.datetime.now(dt.UTC)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
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
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(key_file, pem_private_key(key))
    write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def _server_cert_valid(cert_file: Path, ca_cert: x509.Certificate) -> bool:
    if not cert_file.exists():
        return False
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    fresh = cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    return fresh and cert.issuer == ca_cert.subject


def load_or_create_tls(directory: Path) -> TlsFiles:
    """CA and server certificate from directory; created on first start, renewed when near expiry."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _ca(directory)
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    if _server_cert_valid(files.server_cert, ca_cert) and files.server_key.exists():
        return files
    key = new_rsa_key()
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(files.server_key, pem_private_key(key))
    write_atomic(files.server_cert, cert.public_bytes(serialization.Encoding.PEM))
    return files
