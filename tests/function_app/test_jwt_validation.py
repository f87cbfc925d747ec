"""Caller JWT validation: every forged or unusable token is a 401 problem, never a 500 or a pass."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.function_app.forged_tokens import issuer_key, sign, user_claims
from tests.function_app.harness import Caller, new_user


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(caller: Caller, case: str) -> str:
    key, kid = issuer_key(caller)
    if case == "expired":
        return caller.local_azure.mint_user_token(new_user(), lifetime_seconds=-600)
    if case == "not_yet_valid":
        return caller.local_azure.mint_user_token(new_user(), not_before_seconds=900)
    if case == "wrong_audience":
        return caller.local_azure.mint_user_token(new_user(), aud="api://someone-else")
    if case == "wrong_issuer":
        return sign(caller, user_claims(caller, iss="http://127.0.0.1:1/evil"))
    if case == "bad_signature":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return jwt.encode(user_claims(caller), other, "RS256", headers={"kid": kid})
    if case == "tampered_payload":
        claims = user_claims(caller)
        header, _, signature = sign(caller, claims).split(".")
        payload = _b64(json.dumps({**claims, "oid": new_user()}).encode())
        return f"{header}.{payload}.{signature}"
    if case == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64(json.dumps(user_claims(caller)).encode())}."
    if case == "hs256_with_public_key":
        public_pem = key.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        payload = _b64(json.dumps(user_claims(caller)).encode())
        signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"
    if case == "unknown_kid":
        return sign(caller, user_claims(caller), kid="not-a-known-kid")
    if case == "no_kid":
        return sign(caller, user_claims(caller), kid=None)
    if case == "no_subject":
        return sign(caller, user_claims(caller, sub=None, oid=None))
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
    # An Entra token naming no user is told what is missing (docs/auth.md: the profile scope).
    assert reply.json["code"] == ("missing_oid" if case == "no_subject" else "unauthenticated")
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(caller.local_azure.identities()) == before


async def test_valid_token_signed_with_issuer_key_passes(caller: Caller) -> None:
    """The control for the forgeries above: the same construction, done right, is accepted."""
    reply = await caller.call("issue_user_token", "POST", "token", token=sign(caller, user_claims(caller)))
    assert reply.status == 201, reply.body


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer    ", "token abc"])
async def test_malformed_authorization_header(caller: Caller, header: str) -> None:
    reply = await caller.call("issue_user_token", "POST", "token", headers={"authorization": header})
    assert reply.status == 401
