"""A second OIDC issuer on 127.0.0.1 that the test can rotate and take down: its real HTTP endpoints
(discovery, JWKS, a CORS-open mint) are what the app's KeyRing fetches and the page signs in with.

Why not local_azure's issuer: provoking 503 `auth_keys_unavailable` for real needs a token signed with a
kid the app has not seen while the issuer's JWKS cannot be fetched (token_service/auth/keys.py), i.e. a
key rotation during an issuer outage; local_azure's issuer has one key and no outage knob.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from local_azure.entra.issuer import API_CLIENT_ID, DEFAULT_CLIENT_APP_ID, REQUIRED_SCOPE
from local_azure.signing import b64url

TENANT = "0f0e0d0c-0b0a-4909-8807-060504030201"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Authorization",
}


@dataclass
class RotatingIssuer:
    """Signs with `signing_kid`; publishes `published_kids` (one RSA key under each kid) unless `keys_down`."""

    port: int
    signing_kid: str = "k1"
    published_kids: list[str] = field(default_factory=lambda: ["k1"])
    keys_down: bool = False
    lifetime_seconds: int = 3600
    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    jwks_requests: list[int] = field(default_factory=list)  # status answered per JWKS request
    keys_served_at: float = 0.0  # time.monotonic() of the last JWKS answered 200

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"{self.base}/{TENANT}/v2.0"

    @property
    def mint_url(self) -> str:
        return f"{self.base}/mint"

    def jwks(self) -> dict[str, Any]:
        numbers = self.key.public_key().public_numbers()
        n, e = b64url(numbers.n.to_bytes(256, "big")), b64url(numbers.e.to_bytes(3, "big"))
        return {
            "keys": [
                {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e} for kid in self.published_kids
            ]
        }

    def mint(self, body: dict[str, Any]) -> str:
        now = int(time.time())
        oid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"rotating:{body['sub']}"))
        claims = {
            "iss": self.issuer, "aud": API_CLIENT_ID, "tid": TENANT, "oid": oid, "sub": body["sub"],
            "azp": DEFAULT_CLIENT_APP_ID, "scp": REQUIRED_SCOPE, "ver": "2.0",
            "iat": now, "nbf": now, "exp": now + self.lifetime_seconds,
        }  # fmt: skip
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": self.signing_kid, "typ": "JWT"})


def serve(issuer: RotatingIssuer) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {**CORS, "Content-Type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self) -> None:
            self._reply(204, {})

        def do_GET(self) -> None:
            if self.path == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                self._reply(200, {"issuer": issuer.issuer, "jwks_uri": f"{issuer.base}/keys"})
            elif self.path == "/keys":
                status = 503 if issuer.keys_down else 200
                issuer.jwks_requests.append(status)
                if status == 200:
                    issuer.keys_served_at = time.monotonic()
                self._reply(status, {"error": "unavailable"} if issuer.keys_down else issuer.jwks())
            else:
                self._reply(404, {"error": "not_found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path != "/mint" or not isinstance(body.get("sub"), str):
                self._reply(400, {"error": "invalid_request"})
                return
            self._reply(200, {"access_token": issuer.mint(body)})

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", issuer.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
