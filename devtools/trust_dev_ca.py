"""`make trust-dev-ca`: let this user's Chromium and Firefox trust local_azure's development CA, so a SPA
can sign in against the local issuer (https) without certificate warnings.

Adds the CA (as a trusted issuer of server certificates, `C,,`) to the NSS databases those browsers
read: `~/.pki/nssdb` (Chromium, Chrome; created if absent) and each Firefox profile under
`~/.mozilla/firefox` (and the snap's). Touches nothing else: no system store, no other user.
`--remove` takes it out again. Needs `certutil` (Debian/Ubuntu: libnss3-tools).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from local_azure.settings_file import DEFAULT_DATA_DIR

NICKNAME = "local_azure development CA"
INSTALL_HINT = (
    "certutil is missing: install it with `sudo apt-get install libnss3-tools` (Debian/Ubuntu), "
    "`sudo dnf install nss-tools` (Fedora) or `brew install nss` (macOS), then run `make trust-dev-ca` again"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make trust-dev-ca", description=__doc__)
    parser.add_argument("--ca", type=Path, default=DEFAULT_DATA_DIR / "keys" / "ca.pem", help="the CA certificate")
    parser.add_argument("--remove", action="store_true", help="stop trusting it")
    return parser.parse_args(argv)


def nss_databases(home: Path) -> Iterator[Path]:
    """The user's Chromium database, then every Firefox profile that has a certificate database."""
    yield home / ".pki" / "nssdb"
    for root in (home / ".mozilla" / "firefox", home / "snap" / "firefox" / "common" / ".mozilla" / "firefox"):
        for profile in sorted(root.glob("*")) if root.is_dir() else ():
            if (profile / "cert9.db").exists():
                yield profile


def _certutil(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["certutil", *args], capture_output=True, text=True, check=False)


def trust(database: Path, ca: Path) -> None:
    if not (database / "cert9.db").exists():
        database.mkdir(parents=True, exist_ok=True, mode=0o700)
        created = _certutil("-N", "-d", f"sql:{database}", "--empty-password")
        if created.returncode != 0:
            raise RuntimeError(f"certutil could not create {database}: {created.stderr.strip()}")
    _certutil("-D", "-d", f"sql:{database}", "-n", NICKNAME)  # an older CA of this name (new data dir)
    added = _certutil("-A", "-d", f"sql:{database}", "-n", NICKNAME, "-t", "C,,", "-i", str(ca))
    if added.returncode != 0:
        raise RuntimeError(f"certutil could not add the CA to {database}: {added.stderr.strip()}")


def untrust(database: Path) -> None:
    if (database / "cert9.db").exists():
        _certutil("-D", "-d", f"sql:{database}", "-n", NICKNAME)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("certutil") is None:
        print(f"trust-dev-ca: {INSTALL_HINT}", file=sys.stderr)
        return 1
    if not args.remove and not args.ca.is_file():
        print(f"trust-dev-ca: {args.ca} does not exist yet: start `make run` once (it creates the CA)", file=sys.stderr)
        return 1
    home = Path(os.environ.get("HOME") or Path.home())
    try:
        for database in nss_databases(home):
            if args.remove:
                untrust(database)
                print(f"trust-dev-ca: removed {NICKNAME!r} from {database}")
            else:
                trust(database, args.ca.resolve())
                print(f"trust-dev-ca: {database} trusts {args.ca} (restart the browser to pick it up)")
    except RuntimeError as error:
        print(f"trust-dev-ca: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
