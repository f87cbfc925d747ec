"""Local-development tooling: the `make run` launcher, the quickstart client, the one mapping from
the local stand-ins (local_azure, Azurite) to the function app's settings, and the docs site's mkdocs hook.

Nothing in the app imports this package; it may import devhost and local_azure.
"""
