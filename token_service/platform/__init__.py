"""How the app reaches Azure: the managed-identity credential, its failure gate, TLS trust and proxies."""
