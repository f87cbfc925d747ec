"""Authentication of ACS data-plane calls: HMAC-SHA256 (connection string) or a managed-identity bearer.

Anything else is 401 "Denied", decided before a handler runs.
"""

from __future__ import annotations

import datetime as dt

import jwt
from aiohttp import web

from local_azure.acs import hmac_auth
from local_azure.acs.errors import AcsError, denied
from local_azure.entra.mi_tokens import COMMUNICATION, MiTokens


class AcsAuthenticator:
    def __init__(self, access_key: str, mi_tokens: MiTokens) -> None:
        self._access_key = access_key
        self._mi_tokens = mi_tokens

    def check(self, request: web.Request, body: bytes) -> None:
        """Return if the call is authenticated, else raise a 401 AcsError."""
        authorization = request.headers.get("Authorization", "")
        scheme = authorization.partition(" ")[0].lower()
        if scheme == "hmac-sha256":
            self._check_hmac(request, authorization, body)
        elif scheme == "bearer":
            self._check_bearer(authorization.partition(" ")[2].strip())
        elif authorization:
            raise denied("Unsupported authorization scheme.")
        else:
            raise denied("Denied by the resource provider: no Authorization header.")

    def _check_hmac(self, request: web.Request, authorization: str, body: bytes) -> None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        reason = hmac_auth.verify(
            access_key=self._access_key,
            authorization=authorization,
            method=request.method,
            raw_path_and_query=request.raw_path,
            headers=headers,
            body=body,
            now=dt.datetime.now(dt.UTC),
        )
        if reason is not None:
            raise denied(f"Denied by the resource provider: {reason}.")

    def _check_bearer(self, token: str) -> None:
        try:
            self._mi_tokens.verify(token, COMMUNICATION)
        except jwt.ExpiredSignatureError as error:
            raise denied("Denied by the resource provider: the bearer token has expired.") from error
        except jwt.InvalidAudienceError as error:
            raise denied(
                f"Denied by the resource provider: the bearer token's audience is not {COMMUNICATION}."
            ) from error
        except jwt.PyJWTError as error:
            raise AcsError(
                401, "Denied", f"Denied by the resource provider: invalid bearer token ({error})."
            ) from error
