"""Discord-shaped REST replies and errors, with the exact `Content-Type: application/json`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JSON_TYPE = "application/json"
RATE_LIMITED_MESSAGE = "You are being rate limited."
# Every Discord response passes Google's front end; discord.py treats a 429 without `Via` as a Cloudflare ban.
VIA = "1.1 google"


@dataclass
class Reply:
    """A REST answer before it becomes an HTTP response: status, JSON body (None -> empty) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None  # a plain-text body instead of JSON (what Cloudflare answers)
    via: bool = True

    def to_response(self) -> web.Response:
        """Build the aiohttp response; JSON bodies get `Content-Type: application/json` exactly."""
        headers = {"Via": VIA, **self.headers} if self.via else dict(self.headers)
        if self.text is not None:
            headers["Content-Type"] = "text/plain"
            return web.Response(status=self.status, body=self.text.encode(), headers=headers)
        if self.body is None:
            return web.Response(status=self.status, headers=headers)
        payload = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()
        # json_response() would append "; charset=utf-8", which discord.py does not recognise as JSON.
        headers["Content-Type"] = JSON_TYPE
        return web.Response(status=self.status, body=payload, headers=headers)


class ApiError(Exception):
    """Raised by a route handler to answer a Discord error body `{"message", "code"[, "errors"]}`."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def to_reply(self) -> Reply:
        """Return the error as a reply."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return Reply(self.status, body)


class HiddenRateLimited(Exception):
    """Raised by a handler when a limit that is not in the headers (the rename limit) refuses a request."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after


def unauthorized() -> ApiError:
    """401 for a missing or wrong token."""
    return ApiError(401, 0, "401: Unauthorized")


def not_found_route() -> ApiError:
    """404 for a route Discord does not have."""
    return ApiError(404, 0, "404: Not Found")


def unknown(kind: str, code: int) -> ApiError:
    """404 for an unknown object, e.g. `unknown("Channel", 10003)`."""
    return ApiError(404, code, f"Unknown {kind}")


def missing_access() -> ApiError:
    """403 when the bot cannot see the resource."""
    return ApiError(403, 50001, "Missing Access")


def missing_permissions() -> ApiError:
    """403 when the bot sees the resource but lacks a permission for the action."""
    return ApiError(403, 50013, "Missing Permissions")


def invalid_form(errors: dict[str, Any]) -> ApiError:
    """400 Invalid Form Body with Discord's nested `errors` object."""
    return ApiError(400, 50035, "Invalid Form Body", errors)


def field_error(code: str, message: str) -> dict[str, Any]:
    """The leaf of Discord's nested form errors."""
    return {"_errors": [{"code": code, "message": message}]}


def rate_limited(retry_after: float, *, is_global: bool, scope: str) -> Reply:
    """429 with the body and headers Discord sends; `retry_after` in seconds."""
    headers = {
        "Retry-After": str(math.ceil(retry_after)),
        "X-RateLimit-Scope": scope,
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    body = {"message": RATE_LIMITED_MESSAGE, "retry_after": retry_after, "global": is_global}
    return Reply(429, body, headers)
