"""ValidatedTokens, the cache of recently validated bearer tokens, through its API.

It reads time.time() itself (no clock parameter), so expiries here are set far from "now" (or in the
past): what the tests check does not depend on how long a line takes to run.
"""

from __future__ import annotations

import time

from token_service.auth.authenticator import LEEWAY_SECONDS, Principal, ValidatedTokens

ALICE = Principal("alice", "alice", frozenset())
BOB = Principal("bob", None, frozenset({"TokenService.Admin"}))
HOUR = 3600.0


def test_a_validated_token_is_found_by_its_exact_text() -> None:
    cache = ValidatedTokens()
    cache.put("header.payload.signature", ALICE, time.time() + HOUR)
    assert cache.get("header.payload.signature") is ALICE
    assert cache.get("header.payload.signaturE") is None
    assert cache.get("header.payload.signature ") is None
    assert cache.get("never-seen") is None


def test_an_expired_token_is_not_found() -> None:
    cache = ValidatedTokens()
    cache.put("expired", ALICE, time.time() - LEEWAY_SECONDS - HOUR)
    assert cache.get("expired") is None


def test_within_the_leeway_after_exp_it_is_still_found() -> None:
    """The cache accepts what decoding accepted: exp plus the leeway."""
    cache = ValidatedTokens()
    cache.put("just-expired", ALICE, time.time() - LEEWAY_SECONDS / 2)
    assert cache.get("just-expired") is ALICE


def test_no_entry_outlives_the_ttl_whatever_the_token_says() -> None:
    cache = ValidatedTokens(ttl_seconds=-1)  # an entry already past its ttl
    cache.put("long-lived", ALICE, time.time() + HOUR)
    assert cache.get("long-lived") is None
    kept = ValidatedTokens(ttl_seconds=HOUR)
    kept.put("long-lived", ALICE, time.time() + 2 * HOUR)
    assert kept.get("long-lived") is ALICE


def test_a_full_cache_drops_expired_entries_first_then_the_oldest() -> None:
    live = time.time() + HOUR
    cache = ValidatedTokens(max_entries=3)
    cache.put("b", BOB, live)
    cache.put("expired", ALICE, time.time() - LEEWAY_SECONDS - HOUR)
    cache.put("c", ALICE, live)
    cache.put("d", ALICE, live)  # full: the expired entry makes room, "b" stays
    assert [cache.get(token) for token in ("b", "c", "d")] == [BOB, ALICE, ALICE]
    cache.put("e", BOB, live)  # full of live entries: the oldest ("b") goes
    assert cache.get("b") is None
    assert [cache.get(token) for token in ("c", "d", "e")] == [ALICE, ALICE, BOB]


def test_put_again_replaces_the_principal() -> None:
    cache = ValidatedTokens()
    cache.put("t", ALICE, time.time() + HOUR)
    cache.put("t", BOB, time.time() + HOUR)
    assert cache.get("t") is BOB
