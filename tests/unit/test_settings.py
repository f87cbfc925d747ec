"""Settings.from_env: the documented defaults, and every malformed value stops the start naming its setting."""

from __future__ import annotations

import pytest

from token_service.cleanup.run import CleanupPolicy
from token_service.settings import Settings, SettingsError

STORAGE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
)
REQUIRED = {
    "COMMUNICATION_SERVICES_ENDPOINT": "https://example.communication.azure.com/",
    "AzureWebJobsStorage": STORAGE,
    "AUTH_ISSUER": "https://login.example/tenant/v2.0",
    "AUTH_AUDIENCE": "api://acs-token-service",
    "CLEANUP_SCHEDULE": "0 0 3 * * *",
    "CLEANUP_REPAIR_SCHEDULE": "0 30 * * * *",
}


def test_defaults_with_only_the_required_settings() -> None:
    settings = Settings.from_env(REQUIRED)
    assert settings.acs.endpoint == "https://example.communication.azure.com"
    assert settings.auth.issuers == ("https://login.example/tenant/v2.0",)
    assert settings.auth.audiences == ("api://acs-token-service",)
    assert settings.auth.required_scope == "access_as_user"
    assert settings.storage.connection_string == STORAGE
    assert settings.storage.table_endpoint is None
    assert settings.acs.client_id is None
    assert settings.storage.table == "acsidentities"
    assert settings.auth.admin_role == "TokenService.Admin"
    assert settings.tokens.teams_app_id is None
    assert settings.tokens.allowed_scopes == frozenset({"chat", "voip"})
    assert settings.tokens.default_minutes == 60
    assert settings.limits.token_per_minute == 30
    assert settings.cleanup.stale_days == 30
    assert settings.cleanup.schedule == "0 0 3 * * *"
    assert settings.cleanup.dry_run is False
    assert settings.cleanup.repair_schedule == "0 30 * * * *"
    # Pacing leaves >= 30% of ACS's 500 revokes (and deletes) per 30 s to users; the cap is what the budget reaches.
    assert settings.cleanup.acs_calls_per_second * 30 <= 0.7 * 500
    assert settings.cleanup.max_per_run == 2_400 == settings.cleanup.acs_calls_per_second * 240
    assert settings.cleanup.time_budget_seconds == 240.0
    assert settings.auth.platform_auth_enabled is False


def test_given_values_are_used() -> None:
    settings = Settings.from_env({
        **REQUIRED, "AZURE_CLIENT_ID": "client-1", "REGISTRY_TABLE": "other", "AUTH_ADMIN_ROLE": "Ops",
        "TEAMS_APP_ID": "app-1", "ALLOWED_SCOPES": " voip , chat.join ", "DEFAULT_TOKEN_MINUTES": "1440",
        "TOKEN_RATE_PER_MINUTE": "5", "STALE_IDENTITY_DAYS": "7", "CLEANUP_SCHEDULE": "0 */5 * * * *",
        "TEAMS_TOKEN_RATE_PER_MINUTE": "6", "DELETE_RATE_PER_MINUTE": "2",
        "CLEANUP_DRY_RUN": "TRUE", "CLEANUP_MAX_PER_RUN": "10", "CLEANUP_TIME_BUDGET_SECONDS": "60",
        "CLEANUP_ACS_CALLS_PER_SECOND": "48", "WEBSITE_AUTH_ENABLED": "yes",
    })  # fmt: skip
    assert settings.acs.client_id == "client-1" == settings.telemetry.client_id
    assert settings.storage.table == "other" and settings.auth.admin_role == "Ops"
    assert settings.tokens.teams_app_id == "app-1"
    assert settings.tokens.allowed_scopes == frozenset({"voip", "chat.join"})
    assert settings.tokens.default_minutes == 1440
    assert settings.limits.token_per_minute == 5 and settings.cleanup.stale_days == 7
    assert (settings.limits.teams_token_per_minute, settings.limits.delete_per_minute) == (6, 2)
    assert settings.cleanup.schedule == "0 */5 * * * *"
    assert settings.cleanup.dry_run is True and settings.auth.platform_auth_enabled is True
    assert settings.cleanup.max_per_run == 10
    assert (settings.cleanup.time_budget_seconds, settings.cleanup.acs_calls_per_second) == (60.0, 48.0)


def test_blank_values_count_as_absent() -> None:
    settings = Settings.from_env({**REQUIRED, "REGISTRY_TABLE": "  ", "TEAMS_APP_ID": "", "CLEANUP_DRY_RUN": " "})
    assert settings.storage.table == "acsidentities" and settings.tokens.teams_app_id is None
    assert settings.cleanup.dry_run is False


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_missing_required_setting_is_named(name: str) -> None:
    env = {key: value for key, value in REQUIRED.items() if key != name}
    with pytest.raises(SettingsError) as error:
        Settings.from_env(env)
    assert str(error.value).startswith(f"{name}:")


MALFORMED = [
    ("COMMUNICATION_SERVICES_ENDPOINT", "http://example.communication.azure.com"),  # https only
    ("COMMUNICATION_SERVICES_ENDPOINT", "example.communication.azure.com"),
    ("AUTH_ISSUER", "ftp://issuer.example"),
    ("AUTH_ISSUER", "not a url"),
    ("REGISTRY_TABLE", "1table"),
    ("REGISTRY_TABLE", "no-dashes"),
    ("ALLOWED_SCOPES", "chat,bogus"),
    ("ALLOWED_SCOPES", ","),
    ("DEFAULT_TOKEN_MINUTES", "59"),
    ("DEFAULT_TOKEN_MINUTES", "1441"),
    ("DEFAULT_TOKEN_MINUTES", "sixty"),
    ("DEFAULT_TOKEN_MINUTES", "60.0"),
    ("TOKEN_RATE_PER_MINUTE", "0"),
    ("TEAMS_TOKEN_RATE_PER_MINUTE", "0"),
    ("DELETE_RATE_PER_MINUTE", "many"),
    ("STALE_IDENTITY_DAYS", "soon"),
    ("STALE_IDENTITY_DAYS", "3651"),
    ("CLEANUP_SCHEDULE", "0 3 * * *"),  # five fields: NCRONTAB needs six
    ("CLEANUP_DRY_RUN", "maybe"),
    ("CLEANUP_MAX_PER_RUN", "0"),
    ("CLEANUP_TIME_BUDGET_SECONDS", "-1"),
    ("CLEANUP_ACS_CALLS_PER_SECOND", "1.5"),
    ("CLEANUP_MAX_PER_RUN", "2401"),  # 10/s x 240 s reach 2,400 at most
    ("CLEANUP_REPAIR_SCHEDULE", "hourly"),
    ("WEBSITE_AUTH_ENABLED", "sure"),
    ("AzureWebJobsStorage", "UseDevelopmentStorage=true"),
]


@pytest.mark.parametrize(("name", "value"), MALFORMED)
def test_a_malformed_value_is_named(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**REQUIRED, name: value})
    assert str(error.value).startswith(f"{name}:")


def test_a_bad_connection_string_is_not_echoed() -> None:
    secret = "AccountKey=c2VjcmV0LWtleS1ub3QtdG8tYmUtbG9nZ2Vk;BlobEndpoint=http://127.0.0.1:1/x"
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**REQUIRED, "AzureWebJobsStorage": secret})
    assert "c2VjcmV0" not in str(error.value)


def test_identity_based_storage_from_the_account_name() -> None:
    env = {key: value for key, value in REQUIRED.items() if key != "AzureWebJobsStorage"}
    settings = Settings.from_env({**env, "AzureWebJobsStorage__accountName": "acct01", "AZURE_CLIENT_ID": "mi-1"})
    assert settings.storage.connection_string is None
    assert settings.storage.table_endpoint == "https://acct01.table.core.windows.net"
    assert settings.storage.client_id == "mi-1"  # falls back to AZURE_CLIENT_ID
    explicit = Settings.from_env({
        **env, "AzureWebJobsStorage__tableServiceUri": "https://acct02.table.core.windows.net/",
        "AzureWebJobsStorage__clientId": "storage-mi", "AZURE_CLIENT_ID": "mi-1",
    })  # fmt: skip
    assert explicit.storage.table_endpoint == "https://acct02.table.core.windows.net"
    assert explicit.storage.client_id == "storage-mi"


@pytest.mark.parametrize(
    ("name", "value"),
    [("AzureWebJobsStorage__accountName", "Bad_Name"), ("AzureWebJobsStorage__tableServiceUri", "acct.table")],
)
def test_malformed_identity_based_storage_is_named(name: str, value: str) -> None:
    env = {key: value for key, value in REQUIRED.items() if key != "AzureWebJobsStorage"}
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**env, name: value})
    assert str(error.value).startswith(f"{name}:")


def test_a_cap_the_budget_cannot_reach_is_refused_with_the_arithmetic() -> None:
    env = {**REQUIRED, "CLEANUP_ACS_CALLS_PER_SECOND": "16", "CLEANUP_TIME_BUDGET_SECONDS": "240"}
    with pytest.raises(SettingsError, match=r"CLEANUP_MAX_PER_RUN: 20000 .* 16 x 240 = 3840"):
        Settings.from_env({**env, "CLEANUP_MAX_PER_RUN": "20000"})
    assert Settings.from_env(env).cleanup.max_per_run == 3840  # without a cap: what the budget reaches


def test_the_cleanup_group_builds_the_cleanup_policy() -> None:
    cleanup = Settings.from_env({**REQUIRED, "CLEANUP_DRY_RUN": "true", "CLEANUP_MAX_PER_RUN": "7"}).cleanup
    policy = CleanupPolicy.from_settings(cleanup)
    assert (policy.stale_days, policy.max_per_run, policy.time_budget_seconds) == (30, 7, 240.0)
    assert (policy.dry_run, policy.acs_calls_per_second) == (True, 10.0)


@pytest.mark.parametrize("value", ["\u0663\u0660", "\uff13\uff10", "+30", "3_0", "30.0"])
def test_integer_settings_are_ascii_digits(value: str) -> None:
    """int() takes Unicode digits, signs and underscores; the settings table documents plain integers."""
    with pytest.raises(SettingsError, match="TOKEN_RATE_PER_MINUTE: not an integer"):
        Settings.from_env({**REQUIRED, "TOKEN_RATE_PER_MINUTE": value})
