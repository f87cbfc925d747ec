"""Teams user token exchange: validates an Entra ID token from the dev issuer as ACS validates Entra's.

Checks, in order: signature and issuer (401 InvalidAccessToken), expiry (401 TokenExpired), audience
`https://auth.msft.communication.azure.com` (401 InvalidAccessToken), `appid` == appId (400
AppIdMismatch), `oid` == userId (400 UserIdMismatch).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import jwt

from local_azure.acs.errors import AcsError
from local_azure.acs.tokens import AcsTokens, IssuedToken
from local_azure.signing import SigningKey

TEAMS_AUDIENCE = "https://auth.msft.communication.azure.com"
TEAMS_SCOPES = ["voip", "chat"]


class TeamsExchange:
    def __init__(self, issuer_key: SigningKey, issuers: Sequence[str], tokens: AcsTokens) -> None:
        self._key = issuer_key
        self._issuers = list(issuers)  # the dev issuer's v1 and v2 identities
        self._tokens = tokens

    def exchange(self, token: str, app_id: str, user_id: str) -> IssuedToken:
        """An ACS token for `8:orgid:<oid>` expiring with the Entra token."""
        try:
            claims = jwt.decode(
                token,
                self._key.public_key,
                algorithms=["RS256"],
                issuer=self._issuers,
                options={"require": ["exp", "iss", "aud"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError as error:
            raise AcsError(401, "TokenExpired", "The Teams user's access token has expired.") from error
        except jwt.PyJWTError as error:
            raise AcsError(401, "InvalidAccessToken", f"The Teams user's access token is invalid: {error}.") from error
        if claims.get("aud") != TEAMS_AUDIENCE:
            raise AcsError(401, "InvalidAccessToken", f"The access token's audience must be {TEAMS_AUDIENCE}.")
        if claims.get("appid") != app_id:
            raise AcsError(400, "AppIdMismatch", "The appId does not match the appid claim of the access token.")
        oid = claims.get("oid")
        if oid != user_id:
            raise AcsError(400, "UserIdMismatch", "The userId does not match the oid claim of the access token.")
        return self._tokens.mint(f"orgid:{oid}", TEAMS_SCOPES, time.time(), float(claims["exp"]))
