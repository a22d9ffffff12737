"""What REST route handlers get: the shared context, the parsed call, and the route table entry type."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from src.sandbox.attachments import Upload, read_multipart
from src.sandbox.config import ATTACHMENT_SIZE_LIMIT, Endpoints, SandboxConfig
from src.sandbox.interactions import InteractionRegistry
from src.sandbox.journal import Journal
from src.sandbox.ratelimit import BucketSpec, SlidingWindowLimiter
from src.sandbox.responses import ApiError, Reply, field_error, invalid_form
from src.sandbox.state import GuildState
from src.types.ports import Clock

MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id")


class EventSink(Protocol):
    """Where REST side effects announce gateway dispatches (the gateway hub)."""

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send `event` to the sessions that should get it."""
        ...


@dataclass
class RestContext:
    """Everything a handler may touch."""

    config: SandboxConfig
    state: GuildState
    journal: Journal
    clock: Clock
    events: EventSink
    endpoints: Endpoints
    renames: SlidingWindowLimiter
    interactions: InteractionRegistry


@dataclass
class RestCall:
    """One matched request: path parameters, query and lazy body access (read once, then kept)."""

    request: web.Request
    method: str
    path: str
    params: dict[str, str]
    query: Mapping[str, str]
    upload_limit: int = ATTACHMENT_SIZE_LIMIT  # bytes per uploaded file; a larger one is answered with 413
    _body: tuple[str, list[Upload]] | None = field(default=None, init=False, repr=False)

    def snowflake(self, name: str) -> int:
        """Return a path parameter as a snowflake (400 like Discord if it is not one)."""
        return _snowflake(name, self.params[name])

    def query_snowflake(self, name: str) -> int | None:
        """Return an optional query parameter as a snowflake."""
        raw = self.query.get(name)
        return None if raw is None else _snowflake(name, raw)

    def query_int(self, name: str, *, default: int, low: int, high: int) -> int:
        """Return an integer query parameter within [low, high] (400 otherwise)."""
        raw = self.query.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise invalid_form(
                {name: field_error("NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')}
            ) from None
        if value < low:
            raise invalid_form({name: field_error("NUMBER_TYPE_MIN", f"int value should be >= {low}.")})
        if value > high:
            raise invalid_form({name: field_error("NUMBER_TYPE_MAX", f"int value should be <= {high}.")})
        return value

    def query_flag(self, name: str) -> bool:
        """Return a boolean query parameter ("true"/"1")."""
        return self.query.get(name, "").lower() in ("true", "1")

    async def _read(self) -> tuple[str, list[Upload]]:
        """The body's JSON text and its file parts (none unless it is multipart)."""
        if self._body is None:
            if self.request.content_type.startswith("multipart/"):
                self._body = await read_multipart(self.request, self.upload_limit)
            else:
                self._body = (await self.request.text(), [])
        return self._body

    async def uploads(self) -> list[Upload]:
        """The files of a multipart body, in the order they were sent ([] for a JSON body)."""
        return list((await self._read())[1])

    async def json(self) -> Any:
        """Return the JSON body ({} when empty); multipart bodies use their `payload_json` part."""
        text, _ = await self._read()
        if not text.strip():
            return {}
        try:
            return json.loads(text)
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None


def _snowflake(name: str, raw: str) -> int:
    """Parse a snowflake or answer Discord's 400."""
    if not raw.isdigit():
        raise invalid_form({name: field_error("NUMBER_TYPE_COERCE", f'Value "{raw}" is not snowflake.')})
    return int(raw)


Handler = Callable[[RestContext, RestCall], Awaitable[Reply]]


@dataclass(frozen=True)
class RouteDef:
    """One emulated route, its bucket and whether it needs the bot token."""

    method: str
    template: str
    handler: Handler
    regex: re.Pattern[str]
    spec: BucketSpec
    major: str | None
    auth: bool


def route(
    method: str, template: str, handler: Handler, *, limit: int = 50, window: float = 1.0, auth: bool = True
) -> RouteDef:
    """Declare a route such as `route("GET", "/channels/{channel_id}", get_channel)`."""
    pattern = re.sub(
        r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
    )
    major = next((p for p in MAJOR_PARAMETERS if "{" + p + "}" in template), None)
    spec = BucketSpec(f"{method} {template}", limit, window)
    return RouteDef(method, template, handler, re.compile(f"^{pattern}$"), spec, major, auth)
