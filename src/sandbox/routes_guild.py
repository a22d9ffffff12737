"""REST routes about the guild: the guild object, channels (and creating them), roles, members and bans."""

from __future__ import annotations

from typing import Any

import structlog

from src.sandbox import payloads
from src.sandbox.responses import (
    ApiError,
    Reply,
    field_error,
    invalid_form,
    missing_access,
    missing_permissions,
    unknown,
)
from src.sandbox.restcore import RestCall, RestContext, RouteDef, route
from src.sandbox.routes_channel import TOPIC_MAX, check_overwrite_grants, check_parent
from src.sandbox.state import CHANNEL_TYPES, MAX_CHANNELS, TEXT, VOICE
from src.sandbox.validation import check_channel_name, parse_overwrites
from src.types.permissions import MANAGE_CHANNELS

log = structlog.get_logger(__name__)

PAGE_MAX = 1000
USER_LIMIT_MAX = 99
BITRATE_MIN, BITRATE_MAX = 8000, 384_000


def _check_guild(ctx: RestContext, call: RestCall) -> None:
    """The bot is in exactly one guild; any other id is unknown."""
    if call.snowflake("guild_id") != ctx.state.guild_id:
        raise unknown("Guild", 10004)


async def get_guild(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}; `with_counts=true` adds the approximate member and presence counts."""
    _check_guild(ctx, call)
    return Reply(200, payloads.guild_payload(ctx.state, with_counts=call.query_flag("with_counts")))


async def get_channels(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/channels."""
    _check_guild(ctx, call)
    return Reply(200, [payloads.channel_payload(ctx.state, c) for c in ctx.state.channels.values()])


async def create_channel(ctx: RestContext, call: RestCall) -> Reply:
    """POST /guilds/{id}/channels: a text (0), voice (2) or category (4) channel; 201 and CHANNEL_CREATE.

    Needs Manage Channels at the server level (the bot's roles, not a channel's overwrites): 403 50013
    otherwise. Overwrites may only allow or deny what the bot has in the guild, and never Manage Roles.
    """
    _check_guild(ctx, call)
    state = ctx.state
    if not state.bot_guild_permissions() & MANAGE_CHANNELS:
        raise missing_permissions()
    body = await call.json()
    if not isinstance(body, dict):
        raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Expected an object"}]})
    kind = body.get("type")
    kind = TEXT if kind is None else kind
    if kind not in CHANNEL_TYPES or isinstance(kind, bool):
        choices = ", ".join(str(t) for t in CHANNEL_TYPES)
        raise invalid_form({"type": field_error("BASE_TYPE_CHOICES", f"Value must be one of ({choices}).")})
    name = check_channel_name(body.get("name"), kind)
    overwrites = parse_overwrites(body.get("permission_overwrites"))
    parent_id = check_parent(state, body.get("parent_id"), kind)
    extra = _channel_options(body, kind)
    check_overwrite_grants(state, overwrites)
    if len(state.channels) >= MAX_CHANNELS:
        raise ApiError(400, 30013, f"Maximum number of guild channels reached ({MAX_CHANNELS})")
    position = body.get("position")
    channel = state.create_channel(
        name,
        kind,
        parent_id=parent_id,
        position=position if isinstance(position, int) and not isinstance(position, bool) else None,
        overwrites=overwrites,
        **extra,
    )
    payload = payloads.channel_payload(state, channel)
    ctx.events.dispatch("CHANNEL_CREATE", payload)
    log.info("sandbox.channel_create", channel_id=channel.id, type=kind, name=name, parent_id=parent_id)
    return Reply(201, payload)


def _channel_options(body: dict[str, Any], kind: int) -> dict[str, Any]:
    """Topic (text), bitrate and user limit (voice) of a new channel; 400 when out of Discord's bounds."""
    options: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    topic = body.get("topic")
    if kind == TEXT and topic is not None:
        if not isinstance(topic, str) or len(topic) > TOPIC_MAX:
            errors["topic"] = field_error("BASE_TYPE_MAX_LENGTH", f"Must be {TOPIC_MAX} or fewer in length.")
        else:
            options["topic"] = topic
    if kind == VOICE:
        for key, low, high in (("bitrate", BITRATE_MIN, BITRATE_MAX), ("user_limit", 0, USER_LIMIT_MAX)):
            value = body.get(key)
            if value is None:
                continue
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                errors[key] = field_error("NUMBER_TYPE_MAX", f"int value should be between {low} and {high}.")
            else:
                options[key] = value
    if errors:
        raise invalid_form(errors)
    return options


async def get_roles(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/roles."""
    _check_guild(ctx, call)
    return Reply(200, payloads.role_payloads(ctx.state))


async def get_role_member_counts(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/roles/member-counts: role id -> members holding it, @everyone left out.

    Exact and cheap at any guild size; needs no privileged intent.
    """
    _check_guild(ctx, call)
    state = ctx.state
    counts = {str(r): state.role_member_count(r) for r in state.roles if r != state.guild_id}
    return Reply(200, counts)


async def get_member(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/members/{user_id}."""
    _check_guild(ctx, call)
    user_id = call.snowflake("user_id")
    if user_id not in ctx.state.members:
        raise unknown("Member", 10007)
    return Reply(200, payloads.member_payload(ctx.state, user_id))


async def list_members(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/members?limit=&after= (ascending; needs the members intent enabled in the portal)."""
    _check_guild(ctx, call)
    if not ctx.config.privileged_intents_enabled:
        raise missing_access()
    limit = call.query_int("limit", default=1, low=1, high=PAGE_MAX)
    after = call.query_snowflake("after") or 0
    page = ctx.state.members.page(limit, after=after)
    return Reply(200, [payloads.member_payload(ctx.state, uid) for uid in page])


async def list_bans(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/bans?limit=&before=&after= (ascending by user id, pages of up to 1000)."""
    _check_guild(ctx, call)
    limit = call.query_int("limit", default=PAGE_MAX, low=1, high=PAGE_MAX)
    page = ctx.state.bans.page(
        limit, after=call.query_snowflake("after"), before=call.query_snowflake("before")
    )
    return Reply(200, [payloads.ban_payload(ctx.state, uid) for uid in page])


async def get_ban(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/bans/{user_id}."""
    _check_guild(ctx, call)
    user_id = call.snowflake("user_id")
    if user_id not in ctx.state.bans:
        raise unknown("Ban", 10026)
    return Reply(200, payloads.ban_payload(ctx.state, user_id))


def guild_routes() -> list[RouteDef]:
    """The routes of this module."""
    return [
        route("GET", "/guilds/{guild_id}", get_guild),
        route("GET", "/guilds/{guild_id}/channels", get_channels),
        route("POST", "/guilds/{guild_id}/channels", create_channel, limit=10, window=10.0),
        route("GET", "/guilds/{guild_id}/roles", get_roles),
        route("GET", "/guilds/{guild_id}/roles/member-counts", get_role_member_counts),
        route("GET", "/guilds/{guild_id}/members", list_members, limit=10, window=10.0),
        route("GET", "/guilds/{guild_id}/members/{user_id}", get_member),
        route("GET", "/guilds/{guild_id}/bans", list_bans, limit=10, window=10.0),
        route("GET", "/guilds/{guild_id}/bans/{user_id}", get_ban),
    ]
