"""An operator's script: an app-only token by MSAL Python's client-credentials flow, then the registry
listed through `GET /api/identities` (admin role in the token's `roles`, plus the function key).

The same configuration works against Entra and against the local issuer; only the values differ:

    OPERATOR_AUTHORITY      https://login.microsoftonline.com/<tenant id>   (locally: local_azure's `authority`)
    OPERATOR_CLIENT_ID      the daemon app registration's client id
    OPERATOR_CLIENT_SECRET  its secret, or OPERATOR_CERTIFICATE + OPERATOR_PRIVATE_KEY (PEM files)
    OPERATOR_SCOPE          api://acs-token-service/.default (the API's App ID URI + /.default)
    TOKEN_SERVICE_URL       the function app's base URL; FUNCTIONS_KEY its function key

Unset values default to what `make run`'s local_azure published (.local/azure/settings.json), so
`python -m devtools.operator_example` works against `make run` as is. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal

from local_azure import settings_file
from local_azure.settings_file import LocalAzureSettings

DEFAULT_SCOPE = "api://acs-token-service/.default"
ENTRA_HOSTS = ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn")


class OperatorError(Exception):
    """A step failed; the message says which and why, without secrets."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.operator_example", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    env = os.environ.get
    parser.add_argument("--url", default=env("TOKEN_SERVICE_URL", "http://localhost:7071"))
    parser.add_argument("--function-key", default=env("FUNCTIONS_KEY"), help="default: local.settings.json's")
    parser.add_argument("--authority", default=env("OPERATOR_AUTHORITY"))
    parser.add_argument("--client-id", default=env("OPERATOR_CLIENT_ID"))
    parser.add_argument("--certificate", type=Path, default=env("OPERATOR_CERTIFICATE"), help="PEM certificate")
    parser.add_argument("--private-key", type=Path, default=env("OPERATOR_PRIVATE_KEY"), help="PEM private key")
    parser.add_argument("--scope", default=env("OPERATOR_SCOPE", DEFAULT_SCOPE))
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--local-settings", type=Path, help="local_azure's settings.json (default: make run's)")
    return parser.parse_args(argv)


def _local_function_key() -> str | None:
    try:
        document = json.loads(Path("local.settings.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = document.get("DevHost", {}).get("FunctionKeys", {}).get("default")
    return key if isinstance(key, str) else None


def confidential_client(
    args: argparse.Namespace, local: LocalAzureSettings | None
) -> msal.ConfidentialClientApplication:
    """MSAL's client for the daemon app: a certificate if given, else the secret (from the environment)."""
    authority = args.authority or (local.authority if local else None)
    client_id = args.client_id or (local.operator_client_id if local else None)
    secret = os.environ.get("OPERATOR_CLIENT_SECRET") or (
        local.operator_client_secret if local and not args.authority else None
    )
    if not authority or not client_id:
        raise OperatorError("set OPERATOR_AUTHORITY and OPERATOR_CLIENT_ID (or start `make run` for local defaults)")
    credential: str | dict[str, str]
    if args.certificate and args.private_key:
        credential = {"private_key": args.private_key.read_text(), "public_certificate": args.certificate.read_text()}
    elif secret:
        credential = secret
    else:
        raise OperatorError("set OPERATOR_CLIENT_SECRET, or OPERATOR_CERTIFICATE and OPERATOR_PRIVATE_KEY")
    entra = urllib.parse.urlsplit(authority).hostname in ENTRA_HOSTS
    verify: str | bool = True
    if local is not None and authority.startswith(local.issuer_origin + "/"):
        verify = local.ca_cert_file  # the local issuer's certificate comes from local_azure's dev CA
    # Off Entra's hosts there is no instance discovery to ask: the authority is taken as given.
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=authority, instance_discovery=entra, verify=verify
    )


def app_token(app: msal.ConfidentialClientApplication, scope: str) -> str:
    result = app.acquire_token_for_client(scopes=[scope])
    if "access_token" not in result:
        raise OperatorError(f"no token: {result.get('error')}: {result.get('error_description')}")
    return str(result["access_token"])


def identities(url: str, token: str, key: str | None, page_size: int) -> Iterator[dict[str, Any]]:
    """Every registry record, page by page (the continuation token as the service returns it)."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        **({"x-functions-key": key} if key else {}),
    }
    continuation: str | None = None
    while True:
        query = {"pageSize": str(page_size), **({"continuation": continuation} if continuation else {})}
        request = urllib.request.Request(f"{url.rstrip('/')}/api/identities?{urllib.parse.urlencode(query)}",  # noqa: S310
                                         headers=headers)  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the configured app URL
                page = json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = json.loads(error.read() or b"{}").get("detail", error.reason)
            raise OperatorError(f"GET /api/identities answered {error.code}: {detail}") from None
        except OSError as error:
            raise OperatorError(f"cannot reach {url}: {error}") from None
        yield from page["items"]
        continuation = page.get("continuation")
        if not continuation:
            return


def run(args: argparse.Namespace) -> int:
    local = settings_file.read_if_present(args.local_settings)
    token = app_token(confidential_client(args, local), args.scope)
    key = args.function_key or _local_function_key()
    count = 0
    for record in identities(args.url, token, key, args.page_size):
        count += 1
        print(f"{record['communicationUserId']}  {record['state']:<8}  created {record['createdAt']}  "
              f"last token {record['lastTokenIssuedAt'] or '-'}")  # fmt: skip
    print(f"{count} identities")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except OperatorError as error:
        print(f"operator_example: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
