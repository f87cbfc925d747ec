"""A local host for the function app where Azure Functions Core Tools is absent.

It serves every function of `function_app.app` at the URLs the Functions host uses, so the
app, the demo page, the quickstart and the tests run the same way with or without `func`.
"""
