"""Every error a caller can be answered with: a stable `code`, an HTTP status, a safe `detail`.

The HTTP layer (http/endpoint.py) turns any ServiceError into problem+json; nothing else reaches a
caller but a generic 500. The tree (status in brackets):

    ServiceError [500 internal_error]
    ├── InvalidRequest [400 invalid_request]
    │   ├── InvalidScope [400 invalid_scope]
    │   ├── InvalidExpiry [400 invalid_expiry]
    │   ├── UnknownField [400 unknown_field]
    │   ├── InvalidIdentityId [400 invalid_identity_id]
    │   ├── InvalidContinuation [400 invalid_continuation]
    │   └── InvalidUserKey [400 invalid_user_key]
    ├── Unauthenticated [401 unauthenticated]
    │   ├── NoToken [401 unauthenticated, challenge without an error code]
    │   └── MissingOid [401 missing_oid]
    ├── TeamsExchangeRejected [401 teams_token_rejected]
    ├── Forbidden [403 forbidden]
    │   ├── InsufficientScope [403 insufficient_scope]
    │   └── UserTokenRequired [403 user_token_required]
    ├── IdentityNotFound [404 identity_not_found]
    ├── PayloadTooLarge [413 payload_too_large]
    ├── UnsupportedMediaType [415 unsupported_media_type]
    ├── RateLimited [429 rate_limited]
    ├── UpstreamThrottled [429 upstream_throttled]
    ├── NotConfigured [501 not_configured]
    ├── AuthKeysUnavailable [503 auth_keys_unavailable]
    ├── UpstreamUnavailable [503 upstream_unavailable]
    ├── RegistryUnavailable [503 registry_unavailable]
    └── CredentialUnavailable [503 credential_unavailable]

Signals that never reach a caller as such live with the concept they belong to, and are translated
where a caller's answer is decided: `registry.Conflict` (an etag or existence precondition failed),
`registry.BadContinuation` (a listing token that is not ours), `registry.CleanupLeaseHeld` (another
cleanup run is at work), `identities.users.IdentityVanished` (ACS lost an identity a user's mapping
named), `settings.SettingsError` (a bad app setting, at start).
"""

from __future__ import annotations

# RFC 6750 §3 challenges: no error code when no token was sent, invalid_token for a bad one (401),
# insufficient_scope when the token is fine but not enough (403).
REALM = 'Bearer realm="acs-token-service"'


class ServiceError(Exception):
    """Base: `code` is stable and documented, `detail` is safe to show a caller (no secrets)."""

    status = 500
    code = "internal_error"
    title = "Internal error"
    challenge: str | None = None  # WWW-Authenticate value, for authentication and authorization errors

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after


class InvalidRequest(ServiceError):
    status, code, title = 400, "invalid_request", "The request is not valid"


class InvalidScope(InvalidRequest):
    code, title = "invalid_scope", "A requested scope is not allowed"


class InvalidExpiry(InvalidRequest):
    code, title = "invalid_expiry", "expiresInMinutes is out of range"


class UnknownField(InvalidRequest):
    """A body field or query parameter the route does not take: a typo never falls back to a default."""

    code, title = "unknown_field", "The body has a field this route does not accept"


class InvalidIdentityId(InvalidRequest):
    """Route ids are checked against ACS's id form before anything is looked up or sent to ACS."""

    code, title = "invalid_identity_id", "The identity id is malformed"


class InvalidContinuation(InvalidRequest):
    """A listing token is bound to the filters it was made for; any other is refused, never reinterpreted."""

    code, title = "invalid_continuation", "The continuation token is malformed or belongs to other filters"


class InvalidUserKey(InvalidRequest):
    """A user key names its issuer, so a key from an issuer the service does not trust matches no user."""

    code, title = "invalid_user_key", "The user key is malformed or from an issuer this service does not trust"


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class UnsupportedMediaType(ServiceError):
    status, code, title = 415, "unsupported_media_type", "The request body must be application/json"


class Unauthenticated(ServiceError):
    status, code, title = 401, "unauthenticated", "A valid bearer token is required"
    challenge = REALM + ', error="invalid_token"'


class NoToken(Unauthenticated):
    challenge = REALM


class MissingOid(Unauthenticated):
    code, title = "missing_oid", "The Entra ID token does not name the user by oid and tid"


class Forbidden(ServiceError):
    status, code, title = 403, "forbidden", "The caller may not do this"
    challenge = REALM + ', error="insufficient_scope"'


class InsufficientScope(Forbidden):
    code, title = "insufficient_scope", "The token lacks the required delegated scope"


class UserTokenRequired(Forbidden):
    code, title = "user_token_required", "This route needs a signed-in user's token, not an app-only token"


class AuthKeysUnavailable(ServiceError):
    status, code, title = 503, "auth_keys_unavailable", "The token issuer's signing keys are unavailable"


class IdentityNotFound(ServiceError):
    status, code, title = 404, "identity_not_found", "No such identity"


class RateLimited(ServiceError):
    status, code, title = 429, "rate_limited", "Too many token requests"


class UpstreamThrottled(ServiceError):
    status, code, title = 429, "upstream_throttled", "Azure Communication Services is throttling requests"


class UpstreamUnavailable(ServiceError):
    status, code, title = 503, "upstream_unavailable", "Azure Communication Services is unavailable"


class RegistryUnavailable(ServiceError):
    status, code, title = 503, "registry_unavailable", "The identity registry is unavailable"


class CredentialUnavailable(ServiceError):
    status, code, title = 503, "credential_unavailable", "The managed identity could not get a token"


class TeamsExchangeRejected(ServiceError):
    status, code, title = 401, "teams_token_rejected", "The Teams user token was rejected"


class NotConfigured(ServiceError):
    status, code, title = 501, "not_configured", "This feature is not configured"
