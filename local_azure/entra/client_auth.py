"""Who is calling the token endpoint: a public client by its id alone, a confidential client by its
secret (form body or HTTP Basic) or by a signed client assertion (private_key_jwt, RFC 7523).

An assertion is checked as Entra checks it: signed (RS256 or PS256) by a certificate registered for
the client and named by its `x5t` / `x5t#S256` header, `iss` = `sub` = the client id, `aud` = this
tenant's token endpoint, within its validity window.
"""

from __future__ import annotations

import base64
import binascii
import urllib.parse
from collections.abc import Mapping, Sequence

import jwt

from local_azure.entra.clients import ClientApp, ClientRegistry
from local_azure.entra.oauth_errors import OAuthError, invalid_client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _basic(authorization: str | None) -> tuple[str, str] | None:
    """client_secret_basic: RFC 6749 §2.3.1 form-encodes id and secret before base64."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise invalid_client(7000215, "The Authorization header is not valid HTTP Basic.") from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise invalid_client(7000215, "The Authorization header is not valid HTTP Basic.")
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)


def _assertion_client(assertion: str) -> str | None:
    try:
        issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None
    return issuer if isinstance(issuer, str) else None


def _check_assertion(client: ClientApp, assertion: str, audiences: Sequence[str]) -> None:
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError:
        raise invalid_client(700027, "Client assertion is not a valid JWT.") from None
    certificate = client.certificate_for(header.get("x5t"), header.get("x5t#S256"))
    if certificate is None:
        raise invalid_client(700027, "Client assertion contains an invalid signature: the key was not found "
                                     "among the application's certificates.")  # fmt: skip
    try:
        claims = jwt.decode(
            assertion, certificate.public_key(), algorithms=["RS256", "PS256"],  # type: ignore[arg-type]
            audience=list(audiences), issuer=client.client_id, leeway=60,
            options={"require": ["exp", "aud", "iss", "sub"]},
        )  # fmt: skip
    except jwt.InvalidAudienceError:
        raise invalid_client(700027, "The audience of the client assertion is not this token endpoint.") from None
    except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
        raise invalid_client(700024, "Client assertion is not within its valid time range.") from None
    except jwt.PyJWTError as error:
        raise invalid_client(700027, f"Client assertion failed validation: {type(error).__name__}.") from None
    if claims["sub"] != client.client_id:
        raise invalid_client(700021, "Client assertion sub must be the application's client id.")


def authenticate(
    form: Mapping[str, str], authorization: str | None, clients: ClientRegistry, audiences: Sequence[str]
) -> ClientApp:
    """The calling client, authenticated as its registration requires; OAuthError otherwise."""
    basic = _basic(authorization)
    assertion = form.get("client_assertion")
    secret = form.get("client_secret") or (basic[1] if basic else None)
    client_id = form.get("client_id") or (basic[0] if basic else None) or (assertion and _assertion_client(assertion))
    if not client_id:
        raise OAuthError("invalid_request", 900144, "The request body must contain the following parameter: "
                                                    "'client_id'.")  # fmt: skip
    if basic and form.get("client_id") and form["client_id"] != basic[0]:
        raise invalid_client(7000215, "The client id of the Authorization header differs from the body's.")
    client = clients.get(client_id)
    if client is None:
        raise OAuthError("unauthorized_client", 700016, f"Application with identifier '{client_id}' was not "
                                                        "found in the directory 'local_azure'.")  # fmt: skip
    if client.public:
        if secret or assertion:
            raise invalid_client(700025, "Client is public so neither 'client_assertion' nor 'client_secret' "
                                         "should be presented.")  # fmt: skip
        return client
    if secret and assertion:
        raise invalid_client(7000215, "Present either a client secret or a client assertion, not both.")
    if secret is not None:
        if not client.secret_matches(secret):
            raise invalid_client(7000215, "Invalid client secret provided. Ensure the secret being sent in the "
                                          "request is the client secret value, not the client secret ID.")  # fmt: skip
        return client
    if assertion:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_request", 50027, f"client_assertion_type must be {ASSERTION_TYPE}.")
        _check_assertion(client, assertion, audiences)
        return client
    raise invalid_client(7000218, "The request body must contain the following parameter: 'client_assertion' "
                                  "or 'client_secret'.")  # fmt: skip
