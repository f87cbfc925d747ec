"""HMAC-SHA256 request signatures, verified as ACS does for connection-string clients.

The SDK signs `VERB\\n<path?query>\\n<x-ms-date>;<host>;<x-ms-content-sha256>` with the base64-decoded
access key. The sync (requests) transport signs the path as sent (`8%3Aacs%3A...`), the aio transport
signs yarl's normalised form (`8:acs:...`); the server tries the forms a client may have signed.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import hmac
from urllib.parse import unquote

from yarl import URL

SIGNED_HEADERS = "x-ms-date;host;x-ms-content-sha256"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign(access_key: str, verb: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    """The signature HMACCredentialsPolicy computes (also used by tests to sign by hand)."""
    string_to_sign = f"{verb.upper()}\n{path_and_query}\n{date};{host};{body_hash}"
    digest = hmac.new(base64.b64decode(access_key), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def authorization_header(signature: str) -> str:
    return f"HMAC-SHA256 SignedHeaders={SIGNED_HEADERS}&Signature={signature}"


def parse_authorization(value: str) -> dict[str, str] | None:
    """`HMAC-SHA256 SignedHeaders=...&Signature=...` → its parameters, or None if not HMAC."""
    scheme, _, params = value.partition(" ")
    if scheme.upper() != "HMAC-SHA256":
        return None
    result: dict[str, str] = {}
    for part in params.strip().split("&"):
        key, sep, item = part.partition("=")
        if sep:
            result[key.strip()] = item.strip()
    return result


def path_forms(raw_path_and_query: str) -> list[str]:
    """Spellings of the request target a client may have signed: as sent, yarl-normalised, decoded."""
    forms = [raw_path_and_query]
    for make in (lambda: str(URL(raw_path_and_query)), lambda: unquote(raw_path_and_query)):
        try:
            candidate = make()
        except ValueError:
            continue
        if candidate not in forms:
            forms.append(candidate)
    return forms


def verify(
    *,
    access_key: str,
    authorization: str,
    method: str,
    raw_path_and_query: str,
    headers: dict[str, str],
    body: bytes,
    now: dt.datetime,
) -> str | None:
    """None when the request is correctly signed, else the reason it is not."""
    params = parse_authorization(authorization)
    if params is None:
        return "not an HMAC-SHA256 authorization"
    signed = [name.strip().lower() for name in params.get("SignedHeaders", "").split(";") if name.strip()]
    if signed != SIGNED_HEADERS.split(";"):
        return f"SignedHeaders must be {SIGNED_HEADERS}"
    signature = params.get("Signature", "")
    date = headers.get("x-ms-date") or ""
    host = headers.get("host") or ""
    body_hash = headers.get("x-ms-content-sha256") or ""
    if not date or not host or not body_hash:
        return "x-ms-date, host and x-ms-content-sha256 headers are required"
    if not hmac.compare_digest(body_hash, content_hash(body)):
        return "x-ms-content-sha256 does not match the request body"
    try:
        sent = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return "x-ms-date is not an RFC 1123 date"
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=dt.UTC)
    if abs(now - sent) > MAX_CLOCK_SKEW:
        return "x-ms-date is more than 15 minutes off the server's clock"
    for path in path_forms(raw_path_and_query):
        expected = sign(access_key, method, path, date, host, body_hash)
        if hmac.compare_digest(expected, signature):
            return None
    return "the HMAC signature does not match"
