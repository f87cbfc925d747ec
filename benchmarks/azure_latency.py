"""Latencies injected to make a local run pay round trips as an app in one Azure region would.

Sources (benchmarks/README.md cites them in full):
- Table Storage: Microsoft publishes no latency figure for Azure Table Storage. Its comparison with
  Azure Cosmos DB for Table says Table Storage is "fast, but no upper bounds on latency", and gives
  Cosmos DB for Table (same API) "<10-ms latency reads and <15-ms latency writes at the 99th
  percentile" (learn.microsoft.com/azure/cosmos-db/table-support). Within a region, availability zones
  are "connected by a high-performance network with a round-trip latency of less than approximately
  2 ms" (learn.microsoft.com/azure/reliability/availability-zones-overview).
  Chosen: 5 ms per read, 8 ms per write, about half those p99 bounds, taken as the median of a standard
  account's point operation from a function app in the same region (network round trip included).
- ACS Identity: no latency figure is published for any ACS Identity operation. Chosen: 20 ms per
  call, an HTTPS call to a multi-tenant regional service that signs a token (the same 20 ms the cleanup
  benchmark adds). This is an assumption, not a measurement; the benchmark takes it as a parameter.
The delays are fixed, not distributed: p99 differences between paths are then our queueing and CPU,
not a model of Azure's tail.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LatencyProfile:
    storage_read_ms: float
    storage_write_ms: float
    acs_ms: float

    def to_json(self) -> dict[str, float]:
        return {
            "storage_read_ms": self.storage_read_ms,
            "storage_write_ms": self.storage_write_ms,
            "acs_ms": self.acs_ms,
        }


AZURE_ONE_REGION = LatencyProfile(storage_read_ms=5.0, storage_write_ms=8.0, acs_ms=20.0)
