"""azd postprovision hook: before the first deploy, let the new storage role assignment take effect.

Flex Consumption deploys by having the platform write the package into the deployment container with
the app's managed identity. Storage accepts that identity only once its Storage Blob Data Owner
assignment has reached the storage data plane; on the first `azd up` that assignment is seconds old
and the deploy can fail with 403 (InaccessibleStorageException) although nothing is wrong. So: wait
until the assignment is ROLE_PROPAGATION_SECONDS old (default 180; `azd env set` it to change, 0 turns
the wait off). Bounded by that number, a no-op on every later run, and never fails provisioning: if
the assignment cannot be read, it says so and lets azd go on (a 403 then: run `azd deploy` again).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime

from azcli import Az, AzFailed

HOOK = "wait-for-storage-role"
DEFAULT_SECONDS = 180
API_VERSION = "2022-04-01"


def remaining_wait(created_on: str, now: datetime, propagation_seconds: float) -> float:
    """Seconds still to wait for an assignment created at `created_on` (ISO 8601) to be that old."""
    created = datetime.fromisoformat(created_on.replace("Z", "+00:00"))
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    age = (now - created).total_seconds()
    return max(0.0, min(propagation_seconds, propagation_seconds - age))


def main() -> int:
    assignment_id = os.environ.get("STORAGE_ROLE_ASSIGNMENT_ID", "")
    try:
        propagation = float(os.environ.get("ROLE_PROPAGATION_SECONDS") or DEFAULT_SECONDS)
    except ValueError:
        print(f"{HOOK}: ROLE_PROPAGATION_SECONDS must be a number of seconds", file=sys.stderr)
        return 1
    if not assignment_id or propagation <= 0:
        print(f"{HOOK}: nothing to wait for")
        return 0
    az = Az.find()
    if az is None:
        print(f"{HOOK}: no Azure CLI to read the role assignment; if the deploy answers 403, run `azd deploy` again")
        return 0
    try:
        assignment = az.rest("GET", f"{assignment_id}?api-version={API_VERSION}")
        created_on = str(assignment["properties"]["createdOn"])
    except (AzFailed, KeyError, TypeError) as error:
        print(f"{HOOK}: could not read the storage role assignment ({error}); "
              "if the deploy answers 403 (InaccessibleStorageException), run `azd deploy` again")  # fmt: skip
        return 0
    wait = remaining_wait(created_on, datetime.now(UTC), propagation)
    if wait <= 0:
        print(f"{HOOK}: the storage role assignment is older than {propagation:.0f} s; deploying")
        return 0
    print(f"{HOOK}: the app's storage role was assigned {propagation - wait:.0f} s ago; waiting {wait:.0f} s "
          "more so that the first deploy is not refused (403) while it takes effect")  # fmt: skip
    deadline = time.monotonic() + wait
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(30.0, left))
        if deadline - time.monotonic() > 0:
            print(f"{HOOK}: {deadline - time.monotonic():.0f} s left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
