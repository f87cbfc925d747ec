"""ACS identities and access tokens: id format, minting with ACS's claim set, and validity checks.

A token is valid while its signature and `exp` hold, its identity exists, and it was issued after
the identity's last revocation (see store.py for the one-second cutoff rule). Revocation is
immediate here; in production it can take up to 15 minutes to reach every ACS service.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass

import jwt

from local_azure.acs_time import acs_datetime
from local_azure.signing import SigningKey
from local_azure.store import IdentityStore

SCOPES = ("chat", "voip", "chat.join", "chat.join.limited", "voip.join")
DEFAULT_MINUTES = 1440
MIN_MINUTES, MAX_MINUTES = 60, 1440
_SUFFIX = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_on: str
    issued_at: float


@dataclass(frozen=True)
class TokenCheck:
    valid: bool
    reason: str | None
    communication_user_id: str | None

    def to_json(self) -> dict[str, object]:
        return {"valid": self.valid, "reason": self.reason, "communicationUserId": self.communication_user_id}


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class AcsTokens:
    """Identity ids and tokens of one ACS resource."""

    def __init__(self, resource_id: str, key: SigningKey, store: IdentityStore) -> None:
        self.resource_id = resource_id
        self._key = key
        self._store = store
        self._prefix = f"8:acs:{resource_id}_"

    def new_identity_id(self) -> str:
        """`8:acs:<resource>_<id>` where <id> looks like ACS's `00000006-19e0-2727-80f5-8b3a0d003502`."""
        raw = secrets.token_hex(14)
        suffix = f"0000000{raw[0]}-{raw[1:5]}-{raw[5:9]}-{raw[9:13]}-{raw[13:25]}"
        return self._prefix + suffix

    def is_well_formed(self, identity_id: str) -> bool:
        """True for ids of this resource in ACS's form; anything else is a 400, not a 404."""
        if not identity_id.startswith(self._prefix):
            return False
        return _SUFFIX.fullmatch(identity_id[len(self._prefix) :].lower()) is not None

    def issue(
        self, identity_id: str, scopes: list[str], minutes: int, now: float | None = None
    ) -> IssuedToken:
        """Mint a token for an ACS identity and record the issue."""
        now = time.time() if now is None else now
        issued = self.mint(identity_id.removeprefix("8:"), scopes, now, now + minutes * 60)
        record = self._store.get(identity_id)
        in_cutoff_second = record is not None and record.revoked_cutoff == int(now)
        self._store.record_token(identity_id, now, token_sha256(issued.token) if in_cutoff_second else None)
        return issued

    def mint(self, skype_id: str, scopes: list[str], now: float, expires_at: float) -> IssuedToken:
        """A signed token with ACS's claim set; `skype_id` is the user id without its `8:` prefix."""
        iat = int(now)
        claims = {
            "skypeid": skype_id,
            "scp": 1792,
            "csi": str(iat),
            "exp": int(expires_at),
            "acsScope": ",".join(scopes),
            "resourceId": self.resource_id,
            "resourceLocation": "unitedstates",
            "iat": iat,
        }
        return IssuedToken(self._key.sign(claims, x5t=True), acs_datetime(expires_at), now)

    def check(self, token: str) -> TokenCheck:
        """Whether a token would still be accepted by ACS services."""
        try:
            claims = jwt.decode(
                token,
                self._key.public_key,
                algorithms=["RS256"],
                options={"require": ["exp", "iat", "skypeid"], "verify_iat": False},
            )
        except jwt.ExpiredSignatureError:
            return TokenCheck(False, "expired", _user_id_unverified(token))
        except jwt.InvalidSignatureError:
            return TokenCheck(False, "bad signature", None)
        except jwt.PyJWTError as error:
            return TokenCheck(False, f"malformed token: {error}", None)
        user_id = "8:" + str(claims["skypeid"])
        if not user_id.startswith("8:acs:"):
            return TokenCheck(True, None, user_id)  # Teams users (8:orgid:) are not revocable here
        record = self._store.get(user_id)
        if record is None:
            return TokenCheck(False, "unknown identity", user_id)
        if record.deleted:
            return TokenCheck(False, "identity deleted", user_id)
        cutoff = record.revoked_cutoff
        iat = int(claims["iat"])
        if cutoff is not None and (
            iat < cutoff or (iat == cutoff and not self._store.is_exempt(token_sha256(token)))
        ):
            return TokenCheck(False, "revoked", user_id)
        return TokenCheck(True, None, user_id)


def _user_id_unverified(token: str) -> str | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    skype_id = claims.get("skypeid")
    return f"8:{skype_id}" if isinstance(skype_id, str) else None
