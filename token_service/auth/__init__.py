"""Caller authentication: bearer JWTs from the configured issuers, their signing keys, and what the claims allow."""
