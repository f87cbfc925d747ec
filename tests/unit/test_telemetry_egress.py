"""Which variables the app sets before the Azure Monitor distro starts (token_service/telemetry/egress.py)."""

from __future__ import annotations

import pytest

from token_service.telemetry.egress import (
    LOCAL_ONLY,
    RESOURCE_DETECTORS,
    egress_environment,
    is_loopback_endpoint,
    limit_egress,
)

IKEY = "InstrumentationKey=00000000-0000-0000-0000-000000000001"
AZURE = f"{IKEY};IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/;LiveEndpoint=https://x/"


@pytest.mark.parametrize(
    ("connection_string", "loopback"),
    [
        (f"{IKEY};IngestionEndpoint=https://127.0.0.1:7443/", True),
        (f"{IKEY};ingestionendpoint=https://localhost:7443", True),
        (f"{IKEY}; IngestionEndpoint = https://[::1]:7443/", True),
        (f"{IKEY};IngestionEndpoint=https://127.9.9.9/", True),
        (AZURE, False),
        (IKEY, False),  # the exporter's default: dc.services.visualstudio.com
        (f"{IKEY};IngestionEndpoint=", False),
        (f"{IKEY};IngestionEndpoint=https://127.0.0.1.example.com/", False),
        ("", False),
    ],
)
def test_loopback_endpoint(connection_string: str, loopback: bool) -> None:
    assert is_loopback_endpoint(connection_string) is loopback


def test_loopback_turns_off_everything_else_even_when_set() -> None:
    environ = {RESOURCE_DETECTORS: "azure_app_service,azure_vm", "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "false"}
    changes = limit_egress(f"{IKEY};IngestionEndpoint=https://127.0.0.1:1/", environ)
    assert environ == LOCAL_ONLY and changes == LOCAL_ONLY


def test_azure_keeps_statsbeat_and_the_operators_detectors() -> None:
    assert egress_environment(AZURE, {}) == {RESOURCE_DETECTORS: "azure_app_service"}  # no IMDS probe
    assert egress_environment(AZURE, {RESOURCE_DETECTORS: "azure_vm"}) == {}  # the operator's choice stands
