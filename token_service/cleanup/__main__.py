"""`python -m token_service.cleanup`: the operator's command line (token_service/cleanup/cli.py)."""

import sys

from token_service.cleanup.cli import main

sys.exit(main())
