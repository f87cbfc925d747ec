from pathlib import Path

NETAUDIT = Path(__file__).resolve().parent / "netaudit"  # put on PYTHONPATH: sitecustomize.py audits the network
