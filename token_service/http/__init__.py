"""The HTTP layer: the route decorator, request parsing, responses and the OpenAPI document.

Blueprints use these to map requests to the domain; nothing here knows the domain's rules beyond
what a request may contain.
"""
