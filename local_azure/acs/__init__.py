"""The ACS Identity data plane stand-in: HTTPS app, auth (HMAC and Entra), tokens, store, faults, Teams exchange."""
