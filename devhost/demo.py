"""The demo page (web/dist) and the small config it reads to find how to sign in.

The issuer's mint URL and ports are local-only and generated at run time, so the page asks
`/demo/config.json` instead of having them baked into the bundle. Its `msal` object holds the keys a
SPA gives @azure/msal-browser, the same for local_azure's issuer and for real Entra, so pointing the page
at a tenant is a matter of the DEMO_MSAL_* variables, not of code.
"""

from __future__ import annotations

import os
import urllib.parse
from pathlib import Path
from typing import Any

from aiohttp import web

from local_azure import settings_file
from local_azure.settings_file import LocalAzureSettings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DIST = PROJECT_ROOT / "web" / "dist"


def demo_config(api_base: str = "", function_key: str | None = None) -> dict[str, Any]:
    """What the page needs; from the environment (`make run` sets it) or local_azure's settings.json.

    `functionKey`: the devhost's own local-only default key (local.settings.json's DevHost section), so the
    operator tab can call admin routes; the devhost serves this page only on loopback.
    """
    generated = settings_file.read_if_present()
    return {
        "apiBase": os.environ.get("DEMO_API_BASE", api_base),
        "issuerMintUrl": os.environ.get("DEV_ISSUER_MINT_URL") or (generated.issuer_mint_url if generated else None),
        # The first configured audience: the dev issuer mints our API's token shape for either one.
        "audience": (os.environ.get("AUTH_AUDIENCE") or (generated.default_audience if generated else "")).split(",")[0]
        or None,
        "scopes": ["voip"],
        "expiresInMinutes": int(os.environ.get("DEMO_TOKEN_MINUTES", "60")),
        "functionKey": function_key,
        "msal": msal_config(generated),
    }


def msal_config(generated: LocalAzureSettings | None) -> dict[str, Any] | None:
    """authority, knownAuthorities, clientId and scope for MSAL; None (the page hides its button) without
    an authority and client id. DEMO_MSAL_AUTHORITY set (real Entra, or `make run`'s issuer): every key
    comes from DEMO_MSAL_*, never mixed with the settings file's local tenant.

    knownAuthorities matters only off Entra's hosts: MSAL trusts a non-Entra authority only when its
    host is listed (there is no instance discovery to ask), so the local issuer's host:port is listed.
    """
    authority = os.environ.get("DEMO_MSAL_AUTHORITY", "")
    if authority:
        client_id = os.environ.get("DEMO_MSAL_CLIENT_ID", "")
        scope = os.environ.get("DEMO_MSAL_SCOPE", "")
        known = os.environ.get("DEMO_MSAL_KNOWN_AUTHORITIES", "")
    elif generated is not None:
        authority, client_id, scope = generated.authority, generated.spa_client_id, generated.api_scope
        known = urllib.parse.urlsplit(generated.issuer_origin).netloc
    else:
        return None
    if not client_id:
        return None
    return {
        "authority": authority.rstrip("/"),
        "knownAuthorities": [host.strip() for host in known.split(",") if host.strip()],
        "clientId": client_id,
        "scope": scope,
    }


def add_demo_routes(
    app: web.Application, dist: Path = DIST, api_base: str = "", function_key: str | None = None
) -> None:
    """`/` redirects to `/demo/`; `/demo/` serves web/dist; `/demo/config.json` the page's config."""

    async def root(_: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/demo/")

    async def index(_: web.Request) -> web.StreamResponse:
        page = dist / "index.html"
        if not page.exists():
            return web.Response(status=404, text="The demo page is not built: run `make install`.")
        return web.FileResponse(page, headers={"Cache-Control": "no-cache"})

    async def config(_: web.Request) -> web.Response:
        return web.json_response(demo_config(api_base, function_key), headers={"Cache-Control": "no-store"})

    app.router.add_get("/", root)
    app.router.add_get("/demo", root)
    app.router.add_get("/demo/", index)
    app.router.add_get("/demo/config.json", config)
    if dist.is_dir():
        app.router.add_static("/demo/", dist, show_index=False)
