"""The seed ACS access-tokens quickstart, run through this app's function URLs.

`python -m devtools.quickstart --url http://localhost:7071` creates an identity, issues a
`voip` token, revokes its tokens and deletes it via the admin routes, printing what the original
quickstart prints. Admin routes need a bearer token with the admin role (given with --admin-token, or
minted from the local dev issuer) and the function key. The issuer, audience and key default to what
the running app's demo page reads (`<url>/demo/config.json`, served by the devhost), then to `make run`'s
`.local/azure/settings.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from local_azure import settings_file

DEFAULT_AUDIENCE = "api://acs-token-service"
DEFAULT_ADMIN_ROLE = "TokenService.Admin"


class QuickstartError(Exception):
    """A step failed; the message says which and why, without secrets."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.quickstart", description=__doc__)
    parser.add_argument("--url", default="http://localhost:7071", help="the function app's base URL")
    parser.add_argument("--function-key", help="default: DevHost.FunctionKeys.default of local.settings.json")
    auth = parser.add_mutually_exclusive_group()
    auth.add_argument("--admin-token", help="a bearer token with the admin role")
    auth.add_argument(
        "--issuer-mint-url", help="local dev issuer mint URL (default: <url>/demo/config.json, else .local/azure)"
    )
    parser.add_argument("--audience", help="default: <url>/demo/config.json's, else $AUTH_AUDIENCE's first")
    parser.add_argument("--admin-role", default=os.environ.get("AUTH_ADMIN_ROLE") or DEFAULT_ADMIN_ROLE)
    parser.add_argument("--expires-in-minutes", type=int, help="custom token lifetime (60-1440)")
    return parser.parse_args(argv)


def _json_file(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return document if isinstance(document, dict) else {}


def default_function_key() -> str | None:
    keys = _json_file(Path("local.settings.json")).get("DevHost", {}).get("FunctionKeys", {})
    return keys.get("default") if isinstance(keys, dict) else None


def demo_config(url: str) -> dict[str, Any]:
    """What the running devhost tells its demo page (issuer mint URL, audience, key); {} when not served."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/demo/config.json", timeout=10) as response:  # noqa: S310
            document = json.loads(response.read())
    except (OSError, ValueError):  # func start serves no demo page
        return {}
    return document if isinstance(document, dict) else {}


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    """One JSON request; HTTP errors become QuickstartError with the problem+json title/detail."""
    data = None if body is None else json.dumps(body).encode("utf-8")
    all_headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    request = urllib.request.Request(url, data=data, method=method, headers=all_headers)  # noqa: S310
    path = urllib.parse.urlsplit(url).path
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            payload = response.read()
            return response.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as error:
        raise QuickstartError(f"{method} {path} answered {error.code}: {_problem(error)}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise QuickstartError(f"cannot reach {url}: {reason} (is the function app running? try `make run`)") from None


def _problem(error: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(error.read() or b"{}")
    except ValueError:
        body = {}
    text = ": ".join(str(body[key]) for key in ("title", "detail") if body.get(key)) or str(error.reason)
    if error.code == 401 and not body:
        text += " (missing or wrong function key? pass --function-key)"
    return text


def admin_token(args: argparse.Namespace, config: dict[str, Any]) -> str:
    if args.admin_token:
        return str(args.admin_token)
    generated = settings_file.read_if_present()
    mint = args.issuer_mint_url or config.get("issuerMintUrl") or (generated.issuer_mint_url if generated else None)
    if not mint:
        raise QuickstartError(
            f"cannot find the local dev issuer: {args.url.rstrip('/')}/demo/config.json does not name it and "
            f"{settings_file.default_path()} does not exist; pass --issuer-mint-url (the mint URL `make run` "
            "prints under 'Dev sign-in') or --admin-token"
        )
    audience = args.audience or config.get("audience") or os.environ.get("AUTH_AUDIENCE") or DEFAULT_AUDIENCE
    body = {
        "sub": "quickstart-admin", "oid": "quickstart-admin", "name": "Quickstart admin", "roles": [args.admin_role],
        "aud": audience.split(",")[0],
    }  # fmt: skip
    _, minted = call("POST", str(mint), body)
    return str(minted["access_token"])


def run(args: argparse.Namespace) -> None:
    base = args.url.rstrip("/") + "/api"
    config = {} if args.admin_token and args.function_key else demo_config(args.url)
    key = args.function_key or os.environ.get("FUNCTIONS_KEY") or config.get("functionKey") or default_function_key()
    headers = {"Authorization": f"Bearer {admin_token(args, config)}", **({"x-functions-key": key} if key else {})}
    print("Azure Communication Services - Access Tokens Quickstart")
    _, created = call("POST", f"{base}/identities", {}, headers)
    user_id = str(created["communicationUserId"])
    path = f"{base}/identities/{urllib.parse.quote(user_id, safe='')}"
    try:
        print(f"\nCreated an identity with ID: {user_id}")
        request: dict[str, Any] = {"scopes": ["voip"]}
        if args.expires_in_minutes is not None:
            request["expiresInMinutes"] = args.expires_in_minutes
        _, issued = call("POST", f"{path}/token", request, headers)
        print(f"\nIssued an access token with 'voip' scope that expires at {issued['expiresOn']}:")
        print(issued["token"])
        call("POST", f"{path}/revoke", None, headers)
        print(f"\nSuccessfully revoked all access tokens for identity with ID: {user_id}")
    except QuickstartError:
        try:
            call("DELETE", path, None, headers)  # do not leave the identity behind
        except QuickstartError as cleanup:
            print(f"quickstart: could not delete {user_id} after the failure: {cleanup}", file=sys.stderr)
        raise
    call("DELETE", path, None, headers)
    print(f"\nDeleted the identity with ID: {user_id}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except QuickstartError as error:
        sys.stdout.flush()
        print(f"quickstart: {error}", file=sys.stderr)
        return 1
    except (KeyError, TypeError, ValueError) as error:
        print(f"quickstart: unexpected response from the function app: {error!r}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
