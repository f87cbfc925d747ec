"""Timestamps in the shape ACS returns them: ISO 8601, seven fractional digits, explicit offset."""

from __future__ import annotations

import datetime as dt


def acs_datetime(epoch_seconds: float) -> str:
    """E.g. `2022-10-11T07:34:29.9028648+00:00` (.NET's round-trip format, as ACS answers)."""
    moment = dt.datetime.fromtimestamp(epoch_seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond * 10:07d}+00:00"


def iso_utc(epoch_seconds: float | None) -> str | None:
    """Plain ISO 8601 for local endpoints (None stays None)."""
    if epoch_seconds is None:
        return None
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).isoformat()
