"""Storage round trips per operation, counted at the storage endpoint: a new round trip fails here.

The real app (registered functions, in process) on a registry whose Table endpoint is the counting proxy
(local_azure.storage_proxy) in front of the session's Azurite; the scenarios are benchmarks/storage_ops.py's,
which publishes the same table. Counts are exact, by HTTP method and Table operation kind, and the ACS
data-plane calls are held alongside. A change that means to move a count updates EXPECTED here and the
published table (`python -m benchmarks.storage_ops` prints both the table and these figures).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from benchmarks.storage_ops import SCENARIOS, count, per_cleanup_item
from local_azure.azurite import AzuriteProcess
from local_azure.process import LocalAzureProcess
from local_azure.storage_proxy import StorageProxyProcess, classify

# scenario: (storage round trips by kind, ACS calls by operation)
EXPECTED: dict[str, tuple[dict[str, int], dict[str, int]]] = {
    "token_steady": ({"GET entity": 1, "MERGE if-match": 1}, {"issue": 1}),
    "token_activity": ({"GET entity": 2, "MERGE if-match": 1, "PUT if-match": 1, "PUT upsert": 1}, {"issue": 1}),
    "token_first_call": ({"GET entity": 1, "MERGE if-match": 1, "POST insert": 2, "PUT upsert": 4}, {"create": 1}),
    "delete_me": (
        {"DELETE": 2, "GET entity": 3, "MERGE if-match": 2, "MERGE upsert": 1, "PUT if-match": 1, "PUT upsert": 3},
        {"revoke": 1, "delete": 1},
    ),
    "admin_delete_owned": (
        {"DELETE": 2, "GET entity": 3, "MERGE if-match": 2, "MERGE upsert": 1, "PUT if-match": 1, "PUT upsert": 3},
        {"revoke": 1, "delete": 1},
    ),
    "admin_delete_unowned": (
        {"DELETE": 2, "GET entity": 1, "MERGE upsert": 1, "PUT if-match": 1, "PUT upsert": 2},
        {"revoke": 1, "delete": 1},
    ),
    "erasure": (
        {
            "DELETE": 3,
            "GET entity": 2,
            "GET query": 3,
            "MERGE if-match": 1,
            "MERGE upsert": 1,
            "PUT if-match": 1,
            "PUT upsert": 3,
        },
        {"revoke": 1, "delete": 1},
    ),
    "cleanup_run_0": ({"DELETE if-match": 1, "GET entity": 1, "GET query": 4, "POST insert": 1}, {}),
    "cleanup_run_1": (
        {
            "DELETE": 1,
            "DELETE if-match": 1,
            "GET entity": 3,
            "GET query": 4,
            "MERGE if-match": 3,
            "MERGE upsert": 1,
            "POST insert": 1,
            "PUT upsert": 1,
        },
        {"revoke": 1, "delete": 1},
    ),
    "cleanup_run_2": (
        {
            "DELETE": 2,
            "DELETE if-match": 1,
            "GET entity": 5,
            "GET query": 4,
            "MERGE if-match": 6,
            "MERGE upsert": 2,
            "POST insert": 1,
            "PUT upsert": 2,
        },
        {"revoke": 2, "delete": 2},
    ),
    "listing_page": ({"GET entity": 5, "GET query": 1}, {}),
}


@pytest.fixture(scope="module")
def proxy(azurite: AzuriteProcess) -> Iterator[StorageProxyProcess]:
    process = StorageProxyProcess.start(f"http://127.0.0.1:{azurite.table_port}")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def proxied_environment(
    app_environment: dict[str, str], azurite: AzuriteProcess, proxy: StorageProxyProcess
) -> dict[str, str]:
    return {**app_environment, "AzureWebJobsStorage": proxy.connection_string(azurite.connection_string)}


def test_every_scenario_has_expected_counts() -> None:
    assert [s.name for s in SCENARIOS] == list(EXPECTED)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
async def test_storage_round_trips_per_operation(
    scenario: Any,
    functions: dict[str, Callable[..., Any]],
    proxied_environment: dict[str, str],
    local_azure: LocalAzureProcess,
    proxy: StorageProxyProcess,
) -> None:
    counted = await count(scenario, functions, proxied_environment, local_azure, proxy)
    storage, acs = EXPECTED[scenario.name]
    assert (counted.storage, counted.acs) == (storage, acs), scenario.description


def test_one_more_cleanup_item_costs_the_difference_of_the_expected_runs() -> None:
    from benchmarks.storage_ops import Counted

    runs = {name: Counted(*EXPECTED[name]) for name in ("cleanup_run_1", "cleanup_run_2")}
    assert per_cleanup_item(runs) == {
        "DELETE": 1,
        "GET entity": 2,
        "MERGE if-match": 3,
        "MERGE upsert": 1,
        "PUT upsert": 1,
    }


@pytest.mark.parametrize(
    ("method", "path", "if_match", "kind"),
    [
        ("GET", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", None, "GET entity"),
        ("GET", "/reg(PartitionKey='a%2Fb',RowKey='a')", None, "GET entity"),  # Azure: no account segment
        ("GET", "/devstoreaccount1/reg()?$filter=PartitionKey%20eq%20'x'", None, "GET query"),
        ("GET", "/devstoreaccount1/reg", None, "GET query"),
        ("POST", "/devstoreaccount1/reg", None, "POST insert"),
        ("PUT", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", None, "PUT upsert"),
        ("PUT", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", "W/\"datetime'x'\"", "PUT if-match"),
        ("PATCH", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", None, "MERGE upsert"),
        ("MERGE", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", "*", "MERGE"),
        ("DELETE", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", "*", "DELETE"),
        ("DELETE", "/devstoreaccount1/reg(PartitionKey='a',RowKey='a')", 'W/"x"', "DELETE if-match"),
        ("POST", "/devstoreaccount1/Tables", None, "POST table"),
        ("GET", "/devstoreaccount1/Tables", None, "GET tables"),
        ("DELETE", "/devstoreaccount1/Tables('reg')", None, "DELETE table"),
        ("POST", "/devstoreaccount1/$batch", None, "POST batch"),
    ],
)
def test_requests_are_classified_by_their_rest_shape(method: str, path: str, if_match: str | None, kind: str) -> None:
    assert classify(method, path, if_match) == kind
