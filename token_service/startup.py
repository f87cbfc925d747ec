"""What the app does once at start: fail fast on bad settings, and keep SDK chatter out of the logs."""

from __future__ import annotations

import logging

from token_service.settings import Settings, SettingsError

log = logging.getLogger("token_service.startup")

# The Functions host forwards INFO logs to Application Insights; azure-core would log every HTTP
# request's headers there and azure-identity every token fetch. Our own request line says what matters.
NOISY_SDK_LOGGERS = ("azure.core.pipeline.policies.http_logging_policy", "azure.identity")


def validate_settings() -> Settings:
    """Fail at start, naming the setting, rather than at the first request."""
    for name in NOISY_SDK_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return Settings.from_env()
    except SettingsError as error:
        log.critical("invalid app setting: %s", error)
        raise
