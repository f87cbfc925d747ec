"""local_azure's typed settings file and devtools.app_settings(), the one mapping to the app's settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.app_settings import app_settings
from devtools.run import cors_origins
from local_azure import settings_file
from local_azure.settings_file import LocalAzureSettings


def sample(tmp_path: Path) -> LocalAzureSettings:
    return settings_file.build(
        pid=42, host="127.0.0.1", acs_port=7443, local_port=7444, issuer_port=7445,
        spa_redirect_uris=["http://localhost:7071/demo/"], operator_secret="s3cret",
        operator_cert_file=tmp_path / "op.pem", operator_key_file=tmp_path / "op-key.pem",
        access_key="a2V5", resource_id="res-1",
        ca_cert_file=tmp_path / "ca.pem", identity_header="header-1", user_client_id="client-1",
        tenant_id="tenant-1", default_audience="api://acs-token-service",
        teams_audience="https://auth.msft.communication.azure.com", data_dir=tmp_path,
    )  # fmt: skip


def test_the_file_round_trips_with_the_same_keys(tmp_path: Path) -> None:
    settings = sample(tmp_path)
    path = settings_file.default_path(tmp_path)
    settings_file.write(path, settings)
    on_disk = json.loads(path.read_text())
    assert on_disk["acs_endpoint"] == "https://127.0.0.1:7443"
    assert on_disk["issuer_mint_url"] == "http://127.0.0.1:7444/issuer/mint"
    assert on_disk["authority"] == "https://127.0.0.1:7445/7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b"
    assert len(on_disk) == 36 and on_disk == settings.to_json()
    assert settings_file.read(path) == settings
    assert settings_file.read_if_present(path) == settings
    assert settings_file.read_if_present(tmp_path / "absent.json") is None


@pytest.mark.parametrize(("key", "value"), [("issuer", None), ("pid", "42"), ("acs_endpoint", 7443), ("pid", True)])
def test_a_missing_or_mistyped_key_is_named(tmp_path: Path, key: str, value: object) -> None:
    document = sample(tmp_path).to_json()
    if value is None:
        del document[key]
    else:
        document[key] = value
    with pytest.raises(ValueError, match=repr(key)):
        LocalAzureSettings.from_json(document)


def test_the_default_file_is_where_make_run_writes_it() -> None:
    assert settings_file.default_path() == Path(".local/azure/settings.json")


def test_app_settings_maps_the_generated_values(tmp_path: Path) -> None:
    local = sample(tmp_path)
    values = app_settings(local, "AccountName=devstoreaccount1;", {"REGISTRY_TABLE": "t1", "AUTH_AUDIENCE": "mine"})
    assert values == {
        "SSL_CERT_FILE": local.ca_cert_file,
        "REQUESTS_CA_BUNDLE": local.ca_cert_file,
        "IDENTITY_ENDPOINT": "http://127.0.0.1:7444/msi/token",
        "IDENTITY_HEADER": "header-1",
        "COMMUNICATION_SERVICES_ENDPOINT": "https://127.0.0.1:7443",
        "AUTH_ISSUER": local.auth_issuer,
        "AzureWebJobsStorage": "AccountName=devstoreaccount1;",
        "DEV_ISSUER_MINT_URL": "http://127.0.0.1:7444/issuer/mint",
        "DEMO_MSAL_AUTHORITY": "https://127.0.0.1:7445/7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b",
        "DEMO_MSAL_KNOWN_AUTHORITIES": "127.0.0.1:7445",
        "DEMO_MSAL_CLIENT_ID": local.spa_client_id,
        "DEMO_MSAL_SCOPE": "api://acs-token-service/access_as_user",
        "AUTH_AUDIENCE": "mine",  # the caller's extra wins
        "REGISTRY_TABLE": "t1",
    }
    assert "AUTH_AUDIENCE" not in app_settings(local, "AccountName=x;", audience=False)
    assert app_settings(local, "AccountName=x;")["AUTH_AUDIENCE"] == f"api://acs-token-service,{local.api_client_id}"
    assert local.auth_issuer == f"{local.issuer_v1},{local.issuer}"
    assert local.issuer == "https://127.0.0.1:7445/7e5f1c2a-9b3d-4e6f-8a1b-2c3d4e5f6a7b/v2.0"


def test_the_sample_settings_name_the_issuers_make_run_serves(tmp_path: Path) -> None:
    """local.settings.sample.json's AUTH_ISSUER is what local_azure publishes on make run's issuer port."""
    sample_file = Path(__file__).resolve().parents[2] / "local.settings.sample.json"
    values = json.loads(sample_file.read_text())["Values"]
    assert values["AUTH_ISSUER"] == sample(tmp_path).auth_issuer
    assert values["AUTH_AUDIENCE"] == sample(tmp_path).auth_audience


def test_cors_follows_the_ports_of_the_run_and_keeps_the_configured_origins() -> None:
    configured = ("http://localhost:7071", "http://localhost:3000")
    origins = cors_origins(configured, (8081, 8082)).split(",")
    assert origins == [
        "http://localhost:7071", "http://localhost:3000", "http://localhost:8081", "http://127.0.0.1:8081",
        "http://localhost:8082", "http://127.0.0.1:8082",
    ]  # fmt: skip
    assert cors_origins(("http://localhost:7071",), (7071,)).split(",").count("http://localhost:7071") == 1
