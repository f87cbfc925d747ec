"""The HTML the issuer serves a person: the sign-in page (pick a user, optionally the admin role; no
password, this is a dev tenant), the form_post relay, and error and signed-out pages.

Everything interpolated is HTML-escaped; the pages load nothing from elsewhere.
"""

from __future__ import annotations

from html import escape

from aiohttp import web

PRESET_USERS = ("alice", "bob", "carol")
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto;padding:0 1rem}"
    "input[type=text]{width:100%;padding:.4rem;box-sizing:border-box}button{margin:.3rem .3rem 0 0}"
    ".error{color:#a00}"
)
_SECURITY = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
}


def _page(title: str, body: str, status: int = 200, csp: str | None = None) -> web.Response:
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{body}</body></html>"
    )
    headers = dict(_SECURITY)
    if csp:
        headers["Content-Security-Policy"] = csp
    return web.Response(text=html, status=status, content_type="text/html", headers=headers)


def sign_in_page(
    action: str, request_id: str, client_name: str, admin_role: str, username: str = "", error: str = ""
) -> web.Response:
    presets = "".join(
        f'<button type="submit" name="preset" value="{escape(name)}" id="preset-{escape(name)}">{escape(name)}</button>'
        for name in PRESET_USERS
    )
    message = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    body = (
        "<h1>Sign in to the local tenant</h1>"
        f"<p><b>{escape(client_name)}</b> asks you to sign in. local_azure dev issuer: no password.</p>"
        f"{message}"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="request" value="{escape(request_id)}">'
        f'<label for="username">User name</label><input type="text" id="username" name="username" '
        f'value="{escape(username)}" autocomplete="off">'
        f'<p><label><input type="checkbox" name="admin" id="admin" value="1"> with the app role '
        f"<code>{escape(admin_role)}</code></label></p>"
        '<p><button type="submit" id="sign-in">Sign in</button></p>'
        f"<p>or as a preset user: {presets}</p></form>"
    )
    return _page("Sign in", body, status=400 if error else 200)


def form_post(redirect_uri: str, fields: dict[str, str]) -> web.Response:
    """response_mode=form_post: a form that posts the response to the redirect URI by itself."""
    inputs = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">' for name, value in fields.items()
    )
    body = (
        f'<form method="post" action="{escape(redirect_uri)}" id="response">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        "<script>document.getElementById('response').submit()</script>"
    )
    csp = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
    return _page("Signing in", body, csp=csp)


def error_page(code: int, message: str, status: int = 400) -> web.Response:
    """Errors that must not go back to the redirect URI (unknown client, unregistered redirect URI)."""
    return _page(
        "Sign-in error", f'<h1>Sorry, that did not work</h1><p id="error">AADSTS{code}: {escape(message)}</p>', status
    )


def signed_out_page() -> web.Response:
    return _page("Signed out", "<h1>You signed out</h1><p>You may close this window.</p>")
