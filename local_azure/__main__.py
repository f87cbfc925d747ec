"""`python -m local_azure`: run the ACS stand-in, managed identity endpoint and dev issuer."""

from local_azure.server import main

if __name__ == "__main__":
    raise SystemExit(main())
