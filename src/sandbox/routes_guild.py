"""REST routes about the guild: the guild object, channels, roles, members and bans."""

from __future__ import annotations

from src.sandbox import payloads
from src.sandbox.responses import Reply, missing_access, unknown
from src.sandbox.restcore import RestCall, RestContext, RouteDef, route

PAGE_MAX = 1000


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


async def get_roles(ctx: RestContext, call: RestCall) -> Reply:
    """GET /guilds/{id}/roles."""
    _check_guild(ctx, call)
    return Reply(200, payloads.role_payloads(ctx.state))


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
        route("GET", "/guilds/{guild_id}/roles", get_roles),
        route("GET", "/guilds/{guild_id}/members", list_members, limit=10, window=10.0),
        route("GET", "/guilds/{guild_id}/members/{user_id}", get_member),
        route("GET", "/guilds/{guild_id}/bans", list_bans, limit=10, window=10.0),
        route("GET", "/guilds/{guild_id}/bans/{user_id}", get_ban),
    ]
