"""The identity domain: a user's identity and tokens, administration, per-user limits, erasure."""
