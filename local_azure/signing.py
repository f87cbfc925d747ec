"""RSA signing keys published as JWKS: one for ACS tokens, one for managed identity, one for the dev issuer.

Each key carries a self-signed certificate so that tokens can name it by `x5t` (SHA-1 thumbprint),
as real ACS and Entra ID tokens do.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from local_azure.files import write_private


def b64url(data: bytes) -> str:
    """Unpadded base64url, the JWK/JWT encoding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


@dataclass(frozen=True)
class SigningKey:
    """A private RSA key with its kid and certificate; signs RS256 JWTs and describes itself as a JWK."""

    kid: str
    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    @property
    def x5t(self) -> str:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return b64url(hashlib.sha1(der, usedforsecurity=False).digest())

    def jwk(self) -> dict[str, Any]:
        numbers = self.public_key.public_numbers()
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "x5t": self.x5t,
            "n": b64url(_int_bytes(numbers.n)),
            "e": b64url(_int_bytes(numbers.e)),
            "x5c": [base64.b64encode(der).decode("ascii")],
        }

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}

    def sign(self, claims: dict[str, Any], *, x5t: bool = False) -> str:
        headers: dict[str, Any] = {"kid": self.kid, "typ": "JWT"}
        if x5t:
            headers["x5t"] = self.x5t
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)


def load_rsa_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA key")
    return key


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _self_signed(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )


def load_or_create_signing_key(directory: Path, name: str, kid: str) -> SigningKey:
    """The key `<name>` from directory, generated on first use and reused afterwards."""
    key_file, cert_file = directory / f"{name}-key.pem", directory / f"{name}-cert.pem"
    if key_file.exists() and cert_file.exists():
        certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
        return SigningKey(kid, load_rsa_key(key_file), certificate)
    private_key = new_rsa_key()
    certificate = _self_signed(private_key, f"local_azure {name}")
    write_private(key_file, pem_private_key(private_key))
    write_private(cert_file, certificate.public_bytes(serialization.Encoding.PEM))
    return SigningKey(kid, private_key, certificate)


def pem_private_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
