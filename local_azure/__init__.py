"""Local stand-ins for the Azure services the token service calls.

No ACS emulator exists, so this package provides one (HTTPS, HMAC and bearer auth, ACS-shaped
tokens), plus an App Service style managed-identity endpoint and a dev OIDC sign-in issuer.
Everything binds to 127.0.0.1.
"""
