"""Entra ID stand-ins: the managed-identity endpoint and its tokens, and the dev sign-in issuer."""
