"""The stale-identity cleanup: the run (lease, queue, pace) and the operator's command line."""
