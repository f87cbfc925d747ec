"""How a browser test's Chromium trusts local_azure's dev CA (the issuer is https).

The real trust path first: the CA in Chromium's NSS database (`make trust-dev-ca`, on a private HOME, so
the developer's own profile is untouched). Without certutil, the issuer server key's pin
(`--ignore-certificate-errors-spki-list`, that key only), so the test still runs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from local_azure.process import PROJECT_ROOT


def spki_pin(certificate_file: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)): what Chromium's SPKI allow-list takes."""
    certificate = x509.load_pem_x509_certificate(certificate_file.read_bytes())
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def trust_dev_ca(home: Path, ca: Path) -> tuple[list[str], dict[str, str]]:
    """Chromium's extra flags and environment to trust the dev CA (`ca`: local_azure's ca_cert_file)."""
    if shutil.which("certutil") is None:
        return [f"--ignore-certificate-errors-spki-list={spki_pin(ca.parent / 'server.pem')}"], dict(os.environ)
    env = {**os.environ, "HOME": str(home)}
    subprocess.run(
        [sys.executable, "-m", "devtools.trust_dev_ca", "--ca", str(ca)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return [], env
