"""The banner `make run` prints once everything answers: URLs, settings in use, and how to sign in.

Secrets never appear in it: connection strings lose their AccountKey, key-like settings are hidden.
"""

from __future__ import annotations

import argparse
import json
import shlex
import urllib.parse

from devhost.settings import LocalSettings
from local_azure.settings_file import LocalAzureSettings

SHOWN_SETTINGS = (
    "COMMUNICATION_SERVICES_ENDPOINT", "AZURE_CLIENT_ID", "IDENTITY_ENDPOINT", "SSL_CERT_FILE", "REGISTRY_TABLE",
    "AUTH_ISSUER", "AUTH_AUDIENCE", "AUTH_ADMIN_ROLE", "ALLOWED_SCOPES", "DEFAULT_TOKEN_MINUTES",
    "TOKEN_RATE_PER_MINUTE", "TEAMS_TOKEN_RATE_PER_MINUTE", "DELETE_RATE_PER_MINUTE", "STALE_IDENTITY_DAYS",
    "CLEANUP_SCHEDULE", "CLEANUP_REPAIR_SCHEDULE", "CLEANUP_DRY_RUN",
)  # fmt: skip


def visible(name: str, value: str) -> str:
    """Settings as printed: secrets never, connection strings without their keys."""
    if "AccountKey=" in value:
        return ";".join(part for part in value.split(";") if part and not part.startswith("AccountKey="))
    if any(word in name.upper() for word in ("SECRET", "PASSWORD", "HEADER", "KEY")):
        return "<hidden>" if value else ""
    return value


def summary(
    args: argparse.Namespace,
    env: dict[str, str],
    local: LocalSettings,
    host_kind: str,
    health: str,
    base_url: str,
    demo_url: str,
    lazure: LocalAzureSettings,
) -> str:
    """The banner printed once everything answers: URLs, settings, and how to sign in."""
    values = {name: env.get(name, local.values.get(name, "")) for name in SHOWN_SETTINGS}
    values["AzureWebJobsStorage"] = env["AzureWebJobsStorage"]
    width = max(map(len, values))
    mint = lazure.issuer_mint_url
    audience = (values.get("AUTH_AUDIENCE") or lazure.default_audience).split(",")[0]
    role = values.get("AUTH_ADMIN_ROLE") or "TokenService.Admin"
    key = local.keys.default_function_key
    user_body = json.dumps({"sub": "alice", "oid": "alice", "aud": audience})
    admin_body = json.dumps({"sub": "admin", "oid": "admin", "aud": audience, "roles": [role]})
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    lines = [
        "",
        "=" * 78,
        f"ACS token service is running ({host_kind}) — health: {health}",
        "",
        f"Demo page:   {demo_url}/demo/",
        f"OpenAPI:     {base_url}/api/openapi.json",
        f"Function key (local dev only, from {args.settings}): {key}",
        "",
        "Settings in use:",
        *(f"  {name.ljust(width)}  {visible(name, value)}" for name, value in values.items()),
        "",
        "Dev sign-in (the local issuer mints tokens for any user):",
        f"  USER_TOKEN=$(curl -s -X POST {mint} -H 'Content-Type: application/json' \\",
        f"      -d {shlex.quote(user_body)} | {extract})",
        f'  curl -s -X POST {base_url}/api/token -H "Authorization: Bearer $USER_TOKEN" \\',
        "      -H 'Content-Type: application/json' -d '{\"scopes\": [\"voip\"]}'",
        "",
        "Admin token (role " + role + ") for /api/identities, together with the function key:",
        f"  ADMIN_TOKEN=$(curl -s -X POST {mint} -H 'Content-Type: application/json' \\",
        f"      -d {shlex.quote(admin_body)} | {extract})",
        f'  curl -s -X POST {base_url}/api/identities -H "Authorization: Bearer $ADMIN_TOKEN" \\',
        f"      -H 'x-functions-key: {key}' -H 'Content-Type: application/json' -d '{{}}'",
        "",
        *spa_lines(lazure, demo_url),
        "",
        "Operator (client credentials, app-only token with the admin role), as against Entra:",
        f"  .venv/bin/python -m devtools.operator_example --url {base_url} --function-key {key}",
        "",
        "Seed quickstart through the function URLs:",
        f"  .venv/bin/python -m devtools.quickstart --url {base_url} --function-key {key} \\",
        f"      --issuer-mint-url {mint}",
        "",
        f"Logs of Azurite and local_azure: {args.state_dir / 'logs'}.  Press Ctrl+C to stop everything.",
        "=" * 78,
        "",
    ]
    return "\n".join(lines)


def spa_lines(lazure: LocalAzureSettings, demo_url: str) -> list[str]:
    """What a SPA's MSAL configuration needs to sign in against the local issuer, and how to trust it."""
    registered = lazure.spa_redirect_uris.split(",")
    redirect = f"{demo_url}/demo/" if f"{demo_url}/demo/" in registered else registered[0]
    return [
        "SPA sign-in with @azure/msal-browser (auth code + PKCE; the issuer's page picks a user):",
        f"  auth.authority         {lazure.authority}",
        f"  auth.knownAuthorities  [{json.dumps(urllib.parse.urlsplit(lazure.issuer_origin).netloc)}]",
        f"  auth.clientId          {lazure.spa_client_id}",
        f"  auth.redirectUri       {redirect}  (registered: {', '.join(registered)})",
        f"  scopes                 [{json.dumps(lazure.api_scope)}]",
        f"  The issuer is https under local_azure's dev CA ({lazure.ca_cert_file}): `make trust-dev-ca`",
        "  makes this user's Chromium and Firefox trust it (see docs/auth.md).",
    ]
