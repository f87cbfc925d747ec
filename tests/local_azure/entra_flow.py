"""A hand-driven authorization code flow against the local issuer, over real HTTPS: what a browser and
MSAL do, one request at a time, so each refusal can be provoked on its own."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import requests

from local_azure.process import LocalAzureProcess

SCOPE = "api://acs-token-service/access_as_user openid profile offline_access"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Flow:
    local_azure: LocalAzureProcess
    redirect_uri: str = ""
    session: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self.session.verify = self.local_azure.settings.ca_cert_file
        self.redirect_uri = self.redirect_uri or self.local_azure.settings.spa_redirect_uris.split(",")[0]

    @property
    def authority(self) -> str:
        return self.local_azure.settings.authority

    def authorize(self, **overrides: str | None) -> requests.Response:
        params: dict[str, str | None] = {
            "client_id": self.local_azure.settings.spa_client_id,
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "scope": SCOPE,
            "state": "state-1",
            "nonce": "nonce-1",
            "code_challenge": pkce_pair()[1],
            "code_challenge_method": "S256",
            "response_mode": "fragment",
            "client_info": "1",
            "x-client-SKU": "msal.js.browser",
        }
        params.update(overrides)
        sent = {name: value for name, value in params.items() if value is not None}
        return self.session.get(f"{self.authority}/oauth2/v2.0/authorize", params=sent, allow_redirects=False)

    def sign_in(self, page: requests.Response, username: str = "alice", admin: bool = False) -> requests.Response:
        match = re.search(r'name="request" value="([^"]+)"', page.text)
        assert page.status_code == 200 and match, page.text[:300]
        action = re.search(r'<form method="post" action="([^"]+)"', page.text)
        assert action
        form = {"request": match[1], "username": username, **({"admin": "1"} if admin else {})}
        url = self.local_azure.settings.issuer_origin + action[1]
        return self.session.post(url, data=form, allow_redirects=False)

    def code(self, verifier_challenge: tuple[str, str] | None = None, **overrides: str | None) -> tuple[str, str]:
        """Sign alice in; returns (code, verifier)."""
        verifier, challenge = verifier_challenge or pkce_pair()
        answer = self.sign_in(self.authorize(code_challenge=challenge, **overrides))
        fields = answer_fields(answer)
        assert "code" in fields, fields
        return fields["code"], verifier

    def token(self, **form: str) -> requests.Response:
        body = {"client_id": self.local_azure.settings.spa_client_id, **form}
        origin = {"Origin": self.redirect_uri.rsplit("/", 2)[0]}
        return self.session.post(f"{self.authority}/oauth2/v2.0/token", data=body, headers=origin)

    def redeem(self, code: str, verifier: str | None, redirect_uri: str | None = None) -> requests.Response:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri or self.redirect_uri,
            "scope": SCOPE,
        }
        if verifier is not None:
            form["code_verifier"] = verifier
        return self.token(**form)


def answer_fields(response: requests.Response) -> dict[str, Any]:
    """The authorization response's fields, from a redirect (fragment or query)."""
    assert response.status_code == 302, (response.status_code, response.text[:300])
    location = response.headers["Location"]
    parsed = urllib.parse.urlsplit(location)
    return dict(urllib.parse.parse_qsl(parsed.fragment or parsed.query))
