"""What a token request asks for: one resource and some of its scopes, plus OpenID Connect scopes.

Entra issues an access token for exactly one resource per request (AADSTS28000 otherwise); a bare
scope such as `User.Read` means Microsoft Graph; client credentials take only `<resource>/.default`.
The token's version is the resource's accepted version (our API: v2; Microsoft's: v1), not the
endpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass

from local_azure.entra.issuer import API_CLIENT_ID, DEFAULT_AUDIENCE, REQUIRED_SCOPE
from local_azure.entra.oauth_errors import OAuthError, invalid_scope

OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
GRAPH = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class Resource:
    """A resource app of the tenant: its identifiers, its delegated scopes and the `aud` of its tokens."""

    identifier: str  # the App ID URI, as scopes and the `scope` response name it
    aliases: frozenset[str]
    delegated: tuple[str, ...]
    audience: str  # what mint_claims is asked for (it picks the token version and `aud` from it)
    accepts_v2: bool  # the registration's accessTokenAcceptedVersion: v2 tokens name their client `azp`


API = Resource(
    DEFAULT_AUDIENCE, frozenset({DEFAULT_AUDIENCE, API_CLIENT_ID}), (REQUIRED_SCOPE,), DEFAULT_AUDIENCE, True
)
MS_GRAPH = Resource(
    GRAPH, frozenset({GRAPH, GRAPH_APP_ID}), ("User.Read", "openid", "profile", "email"), GRAPH_APP_ID, False
)
RESOURCES = (API, MS_GRAPH)


@dataclass(frozen=True)
class Access:
    """One resource and the scopes granted on it, with the OIDC scopes that came along."""

    resource: Resource
    scopes: tuple[str, ...]
    oidc: frozenset[str] = frozenset()

    @property
    def scp(self) -> str:
        return " ".join(self.scopes)

    @property
    def response_scope(self) -> str:
        """The `scope` field: what the access token is good for, named as the client asked for it."""
        return " ".join(f"{self.resource.identifier}/{name}" for name in self.scopes)

    @property
    def offline(self) -> bool:
        return "offline_access" in self.oidc


def _resource(identifier: str) -> Resource:
    for resource in RESOURCES:
        if identifier.rstrip("/").lower() in {alias.lower() for alias in resource.aliases}:
            return resource
    raise OAuthError(
        "invalid_resource", 500011, f"The resource principal named {identifier} was not found in the tenant."
    )


def _split(scope: str) -> tuple[str, str]:
    if "/" not in scope:
        return GRAPH, scope  # as Entra reads a bare scope
    identifier, _, name = scope.rpartition("/")
    return identifier, name


def delegated_access(scope: str | None, resource: str | None = None) -> Access:
    """A user's request (authorize, code and refresh grants); `resource` is the v1 endpoints' parameter."""
    names = (scope or "").split()
    oidc = frozenset(name for name in names if name in OIDC_SCOPES)
    wanted = [_split(name) for name in names if name not in OIDC_SCOPES]
    if resource:
        wanted.append((resource, ".default"))
    if not wanted:
        return Access(MS_GRAPH, ("User.Read",), oidc)  # a sign-in alone: Entra hands out a Graph token
    target = _resource(wanted[0][0])
    if any(_resource(identifier) != target for identifier, _ in wanted):
        raise invalid_scope(28000, "Provided value for the input parameter scope is not valid because it "
                                   "contains more than one resource.")  # fmt: skip
    granted: list[str] = []
    for _, name in wanted:
        names_for = target.delegated if name == ".default" else (name,)
        for item in names_for:
            if item not in target.delegated:
                raise invalid_scope(650053, f"The application asked for scope '{item}' that doesn't exist on "
                                            f"the resource '{target.identifier}'.")  # fmt: skip
            if item not in granted:
                granted.append(item)
    return Access(target, tuple(granted), oidc)


def app_access(scope: str | None, resource: str | None = None) -> Access:
    """A client credentials request: `<resource>/.default` only (v1: the `resource` parameter)."""
    if resource and not scope:
        return Access(_resource(resource), (".default",))
    names = (scope or "").split()
    if len(names) != 1 or not names[0].endswith("/.default"):
        raise invalid_scope(1002012, f"The provided value for scope {scope or ''} is not valid. Client credential "
                                     "flows must have a scope value with /.default suffixed to the resource "
                                     "identifier (application ID URI).")  # fmt: skip
    return Access(_resource(names[0].removesuffix("/.default")), (".default",))
