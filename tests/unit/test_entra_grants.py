"""The issuer's grant stores and PKCE check, as pure functions of time: expiry without waiting."""

from __future__ import annotations

import pytest

from local_azure.entra.grants import CODE_LIFETIME, CodeGrant, Codes, Grant, RefreshTokens, User, pkce_matches
from local_azure.entra.oauth_errors import OAuthError
from local_azure.entra.scopes import delegated_access

ALICE = User("alice@acs-local.test", "oid-1", "alice")
GRANT = Grant("client-1", "tenant-1", ALICE, delegated_access("api://acs-token-service/access_as_user openid"))
# RFC 7636 appendix B's example pair
VERIFIER, CHALLENGE = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_pkce_s256_matches_rfc_7636_example() -> None:
    assert pkce_matches(VERIFIER, CHALLENGE)
    assert not pkce_matches(VERIFIER[:-1] + "Y", CHALLENGE)
    assert not pkce_matches("short", CHALLENGE)  # RFC 7636 §4.1: 43 to 128 characters


def test_an_expired_code_is_refused() -> None:
    codes = Codes()
    handle = codes.issue(CodeGrant(GRANT, "http://localhost/", CHALLENGE, None), now=1000.0)
    with pytest.raises(OAuthError) as error:
        codes.redeem(handle, now=1000.0 + CODE_LIFETIME + 1)
    assert (error.value.error, error.value.code) == ("invalid_grant", 70008)


def test_a_code_within_its_life_is_redeemed_once() -> None:
    codes = Codes()
    handle = codes.issue(CodeGrant(GRANT, "http://localhost/", CHALLENGE, "n"), now=1000.0)
    assert codes.redeem(handle, now=1000.0 + CODE_LIFETIME - 1).nonce == "n"
    with pytest.raises(OAuthError) as error:
        codes.redeem(handle, now=1001.0)
    assert error.value.code == 54005


def test_refresh_tokens_rotate_expire_and_stay_with_their_client() -> None:
    tokens = RefreshTokens(lifetime=100.0)
    first = tokens.issue(GRANT, now=0.0)
    with pytest.raises(OAuthError):
        tokens.redeem(first, "another-client", now=1.0)
    assert tokens.redeem(first, "client-1", now=1.0) == GRANT
    with pytest.raises(OAuthError) as reused:
        tokens.redeem(first, "client-1", now=2.0)
    assert reused.value.code == 70043
    second = tokens.issue(GRANT, now=2.0)
    with pytest.raises(OAuthError) as expired:
        tokens.redeem(second, "client-1", now=103.0)
    assert expired.value.error == "invalid_grant"


def test_expired_entries_are_dropped_on_write() -> None:
    codes = Codes()
    for second in range(5):
        codes.issue(CodeGrant(GRANT, "http://localhost/", CHALLENGE, None), now=float(second))
    codes.issue(CodeGrant(GRANT, "http://localhost/", CHALLENGE, None), now=10_000.0)
    assert len(codes.live.entries) == 1
