"""ACS identities and access tokens: id format, minting with ACS's claim set, and validity checks.

A token is valid while its signature and `exp` hold, its identity exists, and it was issued after
the identity's last revocation. Tokens carry whole seconds, so a token issued in the same second as a
revocation would be indistinguishable from one issued before it (RS256 signatures are deterministic):
issuing waits out that second. Revocation is
immediate here; in production it can take up to 15 minutes to reach every ACS service.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass

import jwt

from local_azure.acs.store import IdentityRecord, IdentityStore
from local_azure.acs.timestamps import acs_datetime
from local_azure.signing import SigningKey

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


def wait_before_issuing(record: IdentityRecord, now: float) -> float:
    """Seconds to wait so a new token's iat falls after the identity's revocation second (else 0)."""
    if record.revoked_cutoff is None or int(now) > record.revoked_cutoff:
        return 0.0
    return record.revoked_cutoff + 1 - now


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

    def issue(self, identity_id: str, scopes: list[str], minutes: int, now: float | None = None) -> IssuedToken:
        """Mint a token for an ACS identity and record the issue."""
        now = time.time() if now is None else now
        issued = self.mint(identity_id.removeprefix("8:"), scopes, now, now + minutes * 60)
        self._store.record_token(identity_id, now)
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
        if record.revoked_cutoff is not None and int(claims["iat"]) <= record.revoked_cutoff:
            return TokenCheck(False, "revoked", user_id)
        return TokenCheck(True, None, user_id)


def _user_id_unverified(token: str) -> str | None:
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    skype_id = claims.get("skypeid")
    return f"8:{skype_id}" if isinstance(skype_id, str) else None
