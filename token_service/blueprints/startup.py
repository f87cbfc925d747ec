"""Fail at start, naming the setting, rather than at the first request."""

from __future__ import annotations

import logging

from token_service.settings import Settings, SettingsError

log = logging.getLogger("token_service.startup")


def validate_settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        log.critical("invalid app setting: %s", error)
        raise
