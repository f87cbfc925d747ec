"""CommunicationErrorResponse bodies (`{"error": {"code", "message"}}`), the only error shape ACS uses.

Codes are stable and documented in local_azure/README.md.
"""

from __future__ import annotations

from aiohttp import web


def acs_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


class AcsError(Exception):
    """Raised by handlers and validation; the error middleware turns it into an error response."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    def response(self) -> web.Response:
        return acs_error(self.status, self.code, self.message, self.headers)


def bad_request(message: str, code: str = "ValidationError") -> AcsError:
    return AcsError(400, code, message)


def denied(message: str) -> AcsError:
    """ACS answers every authentication failure with 401 and code "Denied"."""
    return AcsError(401, "Denied", message)
