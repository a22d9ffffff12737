"""REST routes about the bot itself: users, application, gateway discovery and application commands."""

from __future__ import annotations

from typing import Any

from src.sandbox import payloads
from src.sandbox.responses import ApiError, Reply, field_error, invalid_form, missing_access, unknown
from src.sandbox.restcore import RestCall, RestContext, RouteDef, route

IDENTIFY_LIMIT = 1000
DAY_MS = 86_400_000


async def get_me(ctx: RestContext, call: RestCall) -> Reply:
    """GET /users/@me."""
    return Reply(200, payloads.bot_user_payload(ctx.state))


async def get_user(ctx: RestContext, call: RestCall) -> Reply:
    """GET /users/{user_id}: any user the guild knows (members, banned users, the bot)."""
    user_id = call.snowflake("user_id")
    if not ctx.state.knows_user(user_id):
        raise unknown("User", 10013)
    return Reply(200, payloads.user_payload(ctx.state, user_id))


async def get_application(ctx: RestContext, call: RestCall) -> Reply:
    """GET /oauth2/applications/@me."""
    return Reply(
        200, payloads.application_payload(ctx.state, privileged=ctx.config.privileged_intents_enabled)
    )


async def get_gateway(ctx: RestContext, call: RestCall) -> Reply:
    """GET /gateway (no token needed)."""
    return Reply(200, {"url": ctx.endpoints.gateway_url})


async def get_gateway_bot(ctx: RestContext, call: RestCall) -> Reply:
    """GET /gateway/bot with the session start limit left."""
    remaining = max(0, IDENTIFY_LIMIT - ctx.journal.identify_count())
    limit = {"total": IDENTIFY_LIMIT, "remaining": remaining, "reset_after": DAY_MS, "max_concurrency": 1}
    return Reply(200, {"url": ctx.endpoints.gateway_url, "shards": 1, "session_start_limit": limit})


def _check_application(ctx: RestContext, call: RestCall) -> None:
    """Commands may only be managed for the bot's own application."""
    if call.snowflake("application_id") != ctx.state.application_id:
        raise ApiError(403, 20012, "You are not authorized to perform this action on this application")


def _scope(ctx: RestContext, call: RestCall) -> int | None:
    """The command scope: the guild id for guild routes, None for global ones."""
    _check_application(ctx, call)
    if "guild_id" not in call.params:
        return None
    if call.snowflake("guild_id") != ctx.state.guild_id:
        raise missing_access()
    return ctx.state.guild_id


async def get_commands(ctx: RestContext, call: RestCall) -> Reply:
    """GET global or guild application commands."""
    return Reply(200, ctx.state.commands.get(_scope(ctx, call), []))


async def put_commands(ctx: RestContext, call: RestCall) -> Reply:
    """PUT (bulk overwrite) global or guild application commands."""
    scope = _scope(ctx, call)
    body = await call.json()
    if not isinstance(body, list):
        raise invalid_form({"_errors": [{"code": "LIST_TYPE_CONVERT", "message": "Must be a list."}]})
    errors: dict[str, Any] = {}
    for index, command in enumerate(body):
        if not isinstance(command, dict) or not isinstance(command.get("name"), str) or not command["name"]:
            errors[str(index)] = {"name": field_error("BASE_TYPE_REQUIRED", "This field is required")}
    if len(body) > 100:
        errors["_errors"] = [{"code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 100 or fewer in length."}]
    if errors:
        raise invalid_form(errors)
    return Reply(200, ctx.state.put_commands(scope, body))


def core_routes() -> list[RouteDef]:
    """The routes of this module."""
    return [
        route("GET", "/users/@me", get_me),
        route("GET", "/users/{user_id}", get_user),
        route("GET", "/oauth2/applications/@me", get_application),
        route("GET", "/gateway", get_gateway, auth=False),
        route("GET", "/gateway/bot", get_gateway_bot),
        route("GET", "/applications/{application_id}/commands", get_commands),
        route("PUT", "/applications/{application_id}/commands", put_commands),
        route("GET", "/applications/{application_id}/guilds/{guild_id}/commands", get_commands),
        route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", put_commands),
    ]
