"""Domain errors. Each carries a stable code; the HTTP layer maps them to problem+json."""

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


class PayloadTooLarge(ServiceError):
    status, code, title = 413, "payload_too_large", "The request body is too large"


class UnsupportedMediaType(ServiceError):
    status, code, title = 415, "unsupported_media_type", "The request body must be application/json"


class Unauthenticated(ServiceError):
    status, code, title = 401, "unauthenticated", "A valid bearer token is required"
    challenge = REALM + ', error="invalid_token"'


class NoToken(Unauthenticated):
    challenge = REALM


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
