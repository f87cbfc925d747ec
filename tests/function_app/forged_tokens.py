"""Caller tokens built by hand and signed with the dev issuer's real key: the base for forgeries and shapes.

The mint (local_azure) makes the well-formed shapes; tests that need a claim it would never write (a
foreign issuer, a missing subject, a tampered payload) start from `user_claims` and sign with `sign`.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization

from local_azure.entra.issuer import DEFAULT_TENANT_ID
from tests.function_app.harness import Caller, new_user

CLIENT_APP_ID = "0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d"  # the frontend's app registration (azp)


def issuer_key(caller: Caller) -> tuple[Any, str]:
    """The dev issuer's private signing key and its `kid` (from its published JWKS)."""
    settings = caller.local_azure.settings
    pem = (Path(settings.data_dir) / "keys" / "issuer-signing-key.pem").read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    jwks = caller.local_azure.request("GET", settings.issuer_jwks_url)
    return key, jwks["keys"][0]["kid"]


def user_claims(caller: Caller, **overrides: Any) -> dict[str, Any]:
    """A v2 delegated user token's claims as Entra writes them; an override of None drops the claim."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": caller.local_azure.settings.issuer,
        "aud": caller.local_azure.settings.api_client_id,
        "oid": new_user(),
        "sub": "pairwise-" + uuid.uuid4().hex,
        "tid": DEFAULT_TENANT_ID,
        "azp": CLIENT_APP_ID,
        "scp": "access_as_user",
        "ver": "2.0",
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def sign(caller: Caller, claims: dict[str, Any], kid: str | None = "") -> str:
    """RS256 with the issuer's key; `kid` "" uses the issuer's own, None leaves it out."""
    key, own_kid = issuer_key(caller)
    headers = None if kid is None else {"kid": kid or own_kid}
    return jwt.encode(claims, key, "RS256", headers=headers)
