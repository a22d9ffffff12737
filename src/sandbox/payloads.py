"""JSON shapes of users, members, roles, channels, guilds and bans, built on demand from `GuildState`."""

from __future__ import annotations

import json
from typing import Any

from src.sandbox import ids
from src.sandbox.state import CATEGORY, VOICE, Channel, GuildState, Role

# Application flags: GATEWAY_PRESENCE_LIMITED, GATEWAY_GUILD_MEMBERS_LIMITED, GATEWAY_MESSAGE_CONTENT_LIMITED,
# i.e. the privileged intents are switched on in the portal for an app below 100 guilds.
PRIVILEGED_APP_FLAGS = (1 << 13) | (1 << 15) | (1 << 19)


def user_payload(state: GuildState, user_id: int) -> dict[str, Any]:
    """A user object."""
    info = state.user(user_id)
    payload: dict[str, Any] = {
        "id": str(user_id),
        "username": info.username,
        "discriminator": "0",
        "global_name": None if info.bot else info.username.title(),
        "avatar": None,
        "public_flags": 0,
    }
    if info.bot:
        payload["bot"] = True
    return payload


def bot_user_payload(state: GuildState) -> dict[str, Any]:
    """The bot's own user object as `GET /users/@me` and READY return it."""
    return {
        **user_payload(state, state.bot_user_id),
        "global_name": None,
        "bot": True,
        "flags": 0,
        "verified": True,
        "mfa_enabled": False,
        "locale": "en-US",
        "email": None,
    }


def member_payload(state: GuildState, user_id: int) -> dict[str, Any]:
    """A guild member object (with the `flags`, `joined_at`, `roles` and `user` discord.py requires)."""
    return {
        "user": user_payload(state, user_id),
        "nick": None,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in state.member_roles(user_id)],
        "joined_at": ids.iso(state.joined_at(user_id)),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "pending": False,
        "flags": 0,
        "communication_disabled_until": None,
    }


def member_json(state: GuildState, user_id: int) -> str:
    """`member_payload` as compact JSON; a plain seeded member is formatted directly, five times faster.

    A million-member chunk stream spends most of its time here; the fast path must stay equal to
    `json.dumps(member_payload(...))` once parsed (a unit test compares them).
    """
    index = state.plain_seeded_index(user_id)
    if index is None:
        return json.dumps(member_payload(state, user_id), separators=(",", ":"), ensure_ascii=False)
    bot = state.is_seeded_bot(index)
    roles = ",".join(f'"{r}"' for r in state.seeded_roles(index))
    joined = ids.iso(state.seeded_joined_at(index))
    user = f'{{"id":"{user_id}","username":"member{index}","discriminator":"0","global_name":' + (
        'null,"avatar":null,"public_flags":0,"bot":true}'
        if bot
        else f'"Member{index}","avatar":null,"public_flags":0}}'
    )
    return (
        f'{{"user":{user},"nick":null,"avatar":null,"banner":null,"roles":[{roles}],"joined_at":"{joined}",'
        '"premium_since":null,"deaf":false,"mute":false,"pending":false,"flags":0,"communication_disabled_until":null}'
    )


def member_update_payload(state: GuildState, user_id: int) -> dict[str, Any]:
    """GUILD_MEMBER_UPDATE: the member's full object plus `guild_id`, as Discord sends it."""
    return {"guild_id": str(state.guild_id), **member_payload(state, user_id)}


def role_payloads(state: GuildState) -> list[dict[str, Any]]:
    """Every role: @everyone (id == guild id), the bot's managed role, the seeded and the created ones."""
    return [role_payload(state, role) for role in state.roles.values()]


def role_payload(state: GuildState, role: Role) -> dict[str, Any]:
    """One role object; the bot's role is managed and tagged with the bot's id."""
    payload: dict[str, Any] = {
        "id": str(role.id),
        "name": role.name,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": False,
        "flags": 0,
    }
    if role.id == state.bot_role_id:
        payload["tags"] = {"bot_id": str(state.bot_user_id)}
    return payload


def role_event_payload(state: GuildState, role: Role) -> dict[str, Any]:
    """GUILD_ROLE_CREATE and GUILD_ROLE_UPDATE: `{guild_id, role}`."""
    return {"guild_id": str(state.guild_id), "role": role_payload(state, role)}


def channel_payload(state: GuildState, channel: Channel) -> dict[str, Any]:
    """A guild channel object; voice channels carry `bitrate` and `user_limit`."""
    payload: dict[str, Any] = {
        "id": str(channel.id),
        "type": channel.type,
        "guild_id": str(state.guild_id),
        "name": channel.name,
        "position": channel.position,
        "parent_id": None if channel.parent_id is None else str(channel.parent_id),
        "nsfw": False,
        "flags": 0,
        "rate_limit_per_user": 0,
        "last_message_id": None if channel.last_message_id is None else str(channel.last_message_id),
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in channel.overwrites
        ],
    }
    if channel.type == VOICE:
        payload.update(bitrate=channel.bitrate, user_limit=channel.user_limit, rtc_region=None)
    elif channel.type == CATEGORY:
        for key in ("last_message_id", "rate_limit_per_user"):  # a category holds no messages
            del payload[key]
    else:
        payload["topic"] = channel.topic
    return payload


def guild_payload(state: GuildState, *, with_counts: bool = False) -> dict[str, Any]:
    """The guild object `GET /guilds/{id}` returns."""
    general = state.channel_ids["general"]
    payload: dict[str, Any] = {
        "id": str(state.guild_id),
        "name": state.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(state.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "widget_enabled": False,
        "widget_channel_id": None,
        "verification_level": 1,
        "default_message_notifications": 1,
        "explicit_content_filter": 2,
        "roles": role_payloads(state),
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "application_id": None,
        "system_channel_id": str(general) if general in state.channels else None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "max_presences": None,
        "max_members": 500000 if state.member_count <= 500000 else state.member_count,
        "vanity_url_code": None,
        "premium_tier": state.premium_tier,
        "premium_subscription_count": state.boosts,
        "preferred_locale": "en-US",
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
        "incidents_data": None,
    }
    if with_counts:
        payload["approximate_member_count"] = state.member_count
        payload["approximate_presence_count"] = state.online
    return payload


def guild_create_payload(state: GuildState, *, all_members: bool, large_threshold: int) -> dict[str, Any]:
    """GUILD_CREATE: the full guild, with only the bot's member unless `all_members` (small guilds)."""
    member_ids = list(state.members.ascending()) if all_members else [state.bot_user_id]
    return {
        **guild_payload(state),
        "joined_at": ids.iso(ids.BOT_JOINED),
        "large": state.member_count > large_threshold,
        "unavailable": False,
        "member_count": state.member_count,
        "voice_states": [],
        "members": [member_payload(state, uid) for uid in member_ids],
        "channels": [channel_payload(state, c) for c in state.channels.values()],
        "threads": [],
        "presences": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "embedded_activities": [],
        "lazy": True,
    }


def ban_payload(state: GuildState, user_id: int) -> dict[str, Any]:
    """A ban object."""
    return {"reason": state.ban_reason(user_id), "user": user_payload(state, user_id)}


def application_payload(state: GuildState, *, privileged: bool) -> dict[str, Any]:
    """`GET /oauth2/applications/@me`."""
    owner = {**user_payload(state, state.owner_id), "flags": 0}
    return {
        "id": str(state.application_id),
        "name": "StatsBot",
        "icon": None,
        "description": "StatsBot running against the sandbox",
        "summary": "",
        "type": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "owner": owner,
        "team": None,
        "flags": PRIVILEGED_APP_FLAGS if privileged else 0,
        "bot": bot_user_payload(state),
        "approximate_guild_count": 1,
        "interactions_endpoint_url": None,
        "redirect_uris": [],
        "tags": [],
        "install_params": None,
        "custom_install_url": None,
        "role_connections_verification_url": None,
    }


def message_payload(
    state: GuildState, channel: Channel, message_id: int, content: str, embeds: list[dict[str, Any]]
) -> dict[str, Any]:
    """A message the bot posts in `channel`."""
    return {
        "id": str(message_id),
        "channel_id": str(channel.id),
        "guild_id": str(state.guild_id),
        "type": 0,
        "author": user_payload(state, state.bot_user_id),
        "content": content,
        "embeds": embeds,
        "attachments": [],
        "components": [],
        "mentions": [],
        "mention_roles": [],
        "mention_everyone": False,
        "pinned": False,
        "tts": False,
        "flags": 0,
        "timestamp": ids.iso(ids.snowflake_time(message_id)),
        "edited_timestamp": None,
    }
