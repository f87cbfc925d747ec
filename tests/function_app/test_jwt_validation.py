"""Caller JWT validation: every forged or unusable token is a 401 problem, never a 500 or a pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.function_app.conftest import Caller, new_user


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _issuer_key(caller: Caller) -> tuple[object, str]:
    settings = caller.local_azure.settings
    pem = (Path(settings.data_dir) / "keys" / "issuer-signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    jwks = caller.local_azure.request("GET", settings.issuer_jwks_url)
    return key, jwks["keys"][0]["kid"]


def _claims(caller: Caller, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": caller.local_azure.settings.issuer,
        "aud": caller.local_azure.settings.default_audience,
        "sub": new_user(),
        "azp": "0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d",
        "scp": "access_as_user",
        "ver": "2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def forged(caller: Caller, case: str) -> str:
    key, kid = _issuer_key(caller)
    if case == "expired":
        return caller.local_azure.mint_user_token(new_user(), lifetime_seconds=-600)
    if case == "not_yet_valid":
        return caller.local_azure.mint_user_token(new_user(), not_before_seconds=900)
    if case == "wrong_audience":
        return caller.local_azure.mint_user_token(new_user(), aud="api://someone-else")
    if case == "wrong_issuer":
        return jwt.encode(_claims(caller, iss="http://127.0.0.1:1/evil"), key, "RS256", headers={"kid": kid})
    if case == "bad_signature":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(_claims(caller), other, "RS256", headers={"kid": kid})
    if case == "tampered_payload":
        token = jwt.encode(_claims(caller), key, "RS256", headers={"kid": kid})
        header, _, signature = token.split(".")
        payload = _b64(json.dumps(_claims(caller, sub="someone-else")).encode())
        return f"{header}.{payload}.{signature}"
    if case == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64(json.dumps(_claims(caller)).encode())}."
    if case == "hs256_with_public_key":
        public_pem = key.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        payload = _b64(json.dumps(_claims(caller)).encode())
        signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"
    if case == "unknown_kid":
        return jwt.encode(_claims(caller), key, "RS256", headers={"kid": "not-a-known-kid"})
    if case == "no_kid":
        return jwt.encode(_claims(caller), key, "RS256")
    if case == "no_subject":
        return jwt.encode(_claims(caller, sub=None), key, "RS256", headers={"kid": kid})
    if case == "not_a_jwt":
        return "definitely-not-a-jwt"
    raise AssertionError(case)


CASES = [
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "bad_signature",
    "tampered_payload",
    "alg_none",
    "hs256_with_public_key",
    "unknown_kid",
    "no_kid",
    "no_subject",
    "not_a_jwt",
]


@pytest.mark.parametrize("case", CASES)
async def test_forged_or_unusable_tokens_are_401(caller: Caller, case: str) -> None:
    before = len(caller.local_azure.identities())
    reply = await caller.call("issue_user_token", "POST", "token", token=forged(caller, case))
    assert reply.status == 401, (case, reply.body)
    assert reply.json["code"] == "unauthenticated"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(caller.local_azure.identities()) == before


async def test_valid_token_signed_with_issuer_key_passes(caller: Caller) -> None:
    """The control for the forgeries above: the same construction, done right, is accepted."""
    key, kid = _issuer_key(caller)
    token = jwt.encode(_claims(caller), key, "RS256", headers={"kid": kid})
    reply = await caller.call("issue_user_token", "POST", "token", token=token)
    assert reply.status == 201, reply.body


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer    ", "token abc"])
async def test_malformed_authorization_header(caller: Caller, header: str) -> None:
    reply = await caller.call("issue_user_token", "POST", "token", headers={"authorization": header})
    assert reply.status == 401
