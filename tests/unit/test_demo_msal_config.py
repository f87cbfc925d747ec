"""The demo page's MSAL keys (devhost/demo.py): the same four for the local issuer and for real Entra."""

from __future__ import annotations

from pathlib import Path

import pytest

from devhost.demo import msal_config
from tests.unit.test_dev_settings import sample

MSAL_VARIABLES = ("DEMO_MSAL_AUTHORITY", "DEMO_MSAL_KNOWN_AUTHORITIES", "DEMO_MSAL_CLIENT_ID", "DEMO_MSAL_SCOPE")


@pytest.fixture(autouse=True)
def no_msal_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MSAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_settings_or_environment_there_is_no_msal_sign_in() -> None:
    assert msal_config(None) is None


def test_the_settings_file_gives_the_local_issuer_with_its_host_known(tmp_path: Path) -> None:
    local = sample(tmp_path)
    assert msal_config(local) == {
        "authority": "https://127.0.0.1:7445/7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b",
        "knownAuthorities": ["127.0.0.1:7445"],
        "clientId": local.spa_client_id,
        "scope": "api://acs-token-service/access_as_user",
    }


def test_real_entra_from_the_environment_needs_no_known_authorities(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEMO_MSAL_AUTHORITY", "https://login.microsoftonline.com/contoso-tenant-id/")
    monkeypatch.setenv("DEMO_MSAL_CLIENT_ID", "spa-client-id")
    monkeypatch.setenv("DEMO_MSAL_SCOPE", "api://token-api/access_as_user")
    assert msal_config(sample(tmp_path)) == {
        "authority": "https://login.microsoftonline.com/contoso-tenant-id",
        "knownAuthorities": [],
        "clientId": "spa-client-id",
        "scope": "api://token-api/access_as_user",
    }


def test_known_authorities_from_the_environment_are_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_MSAL_AUTHORITY", "https://contoso.ciamlogin.com/contoso.onmicrosoft.com")
    monkeypatch.setenv("DEMO_MSAL_CLIENT_ID", "spa-client-id")
    monkeypatch.setenv("DEMO_MSAL_KNOWN_AUTHORITIES", "contoso.ciamlogin.com, other.example")
    config = msal_config(None)
    assert config is not None and config["knownAuthorities"] == ["contoso.ciamlogin.com", "other.example"]


def test_an_authority_without_client_id_hides_the_button(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment's tenant is never completed with the local tenant's client id."""
    monkeypatch.setenv("DEMO_MSAL_AUTHORITY", "https://login.microsoftonline.com/contoso-tenant-id")
    assert msal_config(sample(tmp_path)) is None
