"""What ACS accepts in a token request: its scopes, token lifetimes and identity id form.

The settings, the request parser and the OpenAPI document all take their bounds from here.
"""

from __future__ import annotations

from dataclasses import dataclass

ACS_SCOPES = frozenset({"chat", "voip", "chat.join", "chat.join.limited", "voip.join"})
MIN_TOKEN_MINUTES = 60
MAX_TOKEN_MINUTES = 1440
# 8:<kind>:<resource id GUID>_<id>, as ACS mints them: `acs` in the public cloud, `gcch-acs` and `dod-acs` in
# the US government clouds, `spool` for identities of older resources.
IDENTITY_ID_PREFIXES = ("acs", "gcch-acs", "dod-acs", "spool")
IDENTITY_ID_PATTERN = rf"8:(?:{'|'.join(IDENTITY_ID_PREFIXES)}):[0-9a-fA-F-]{{36}}_[A-Za-z0-9-]{{1,128}}"
IDENTITY_ID_EXAMPLE = "8:acs:<resource id>_<id>"


@dataclass(frozen=True)
class TokenRequest:
    """A checked request: scopes within ALLOWED_SCOPES (no duplicates), minutes within ACS's range."""

    scopes: tuple[str, ...]
    minutes: int
