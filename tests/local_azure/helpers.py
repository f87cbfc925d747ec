"""Test helpers: raw HTTP calls to the ACS stand-in, signed by hand exactly as the SDK's HMAC policy signs."""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt
from yarl import URL

from local_azure.acs.hmac_auth import authorization_header, content_hash, sign
from local_azure.process import LocalAzureProcess

API = "2023-10-01"


def access_key(process: LocalAzureProcess) -> str:
    return process.settings.acs_connection_string.split("accesskey=", 1)[1]


def rfc1123(moment: dt.datetime | None = None) -> str:
    return email.utils.format_datetime(moment or dt.datetime.now(dt.UTC), usegmt=True)


def hmac_headers(
    process: LocalAzureProcess,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    date: str | None = None,
    body_hash: str | None = None,
    key: str | None = None,
) -> dict[str, str]:
    """Headers the SDK's HMACCredentialsPolicy would send; overrides produce specific forgeries."""
    parsed = URL(url, encoded=True)
    date = date or rfc1123()
    hashed = body_hash or content_hash(body)
    host = f"{parsed.host}:{parsed.port}"
    signature = sign(key or access_key(process), method, parsed.raw_path_qs, date, host, hashed)
    return {
        "x-ms-date": date,
        "x-ms-content-sha256": hashed,
        "Authorization": authorization_header(signature),
        "Content-Type": "application/json",
    }


def client_ssl(process: LocalAzureProcess) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=process.settings.ca_cert_file)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def error_code(self) -> str:
        body = self.json()
        assert set(body) == {"error"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        return str(body["error"]["code"])


async def call(
    process: LocalAzureProcess,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw_body: bytes | None = None,
    api_version: str | None = API,
    headers: dict[str, str] | None = None,
    auth: str = "hmac",
    **sign_overrides: Any,
) -> RawResponse:
    """One data-plane call with HMAC auth (auth="hmac"), a given Authorization (auth="as-given") or none."""
    url = process.settings.acs_endpoint + path
    if api_version is not None:
        url += ("&" if "?" in url else "?") + f"api-version={api_version}"
    data = raw_body if raw_body is not None else (b"" if body is None else json.dumps(body).encode())
    all_headers = {"Content-Type": "application/json"}
    if auth == "hmac":
        all_headers.update(hmac_headers(process, method, url, data, **sign_overrides))
    all_headers.update(headers or {})
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, URL(url, encoded=True), data=data, headers=all_headers, ssl=client_ssl(process)) as r,
    ):
        return RawResponse(r.status, dict(r.headers), await r.text())


def decode_unverified(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def acs_jwks_key(process: LocalAzureProcess) -> Any:
    jwks = process.request("GET", process.settings.acs_jwks_url)
    return jwt.PyJWK(jwks["keys"][0]).key
