"""REST routes about channels: get/edit (with the hidden rename limit)/delete, overwrites and messages."""

from __future__ import annotations

from typing import Any

import structlog

from src.sandbox import ids, payloads
from src.sandbox.attachments import apply_attachments, plan_attachments
from src.sandbox.responses import (
    HiddenRateLimited,
    Reply,
    field_error,
    invalid_form,
    missing_access,
    missing_permissions,
    unknown,
)
from src.sandbox.restcore import RestCall, RestContext, RouteDef, route
from src.sandbox.state import CATEGORY, MANAGE_ROLES, VOICE, Channel, GuildState, Overwrite
from src.sandbox.validation import (
    check_channel_name,
    check_message,
    check_new_message,
    parse_overwrite,
    parse_overwrites,
)
from src.types.permissions import (
    ADMINISTRATOR,
    ATTACH_FILES,
    CONNECT,
    MANAGE_CHANNELS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)

log = structlog.get_logger(__name__)

TOPIC_MAX = 1024
MESSAGES_PAGE_MAX = 100


def _channel(ctx: RestContext, call: RestCall) -> Channel:
    """The addressed channel, or 404 Unknown Channel."""
    try:
        return ctx.state.channel(call.snowflake("channel_id"))
    except KeyError:
        raise unknown("Channel", 10003) from None


def _require(ctx: RestContext, channel: Channel, needed: int) -> None:
    """403 Missing Access without VIEW_CHANNEL, 403 Missing Permissions without the rest of `needed`."""
    have = ctx.state.bot_permissions(channel)
    if not have & VIEW_CHANNEL:
        raise missing_access()
    if have & needed != needed:
        raise missing_permissions()


def _message(channel: Channel, call: RestCall) -> dict[str, Any]:
    """The addressed message, or 404 Unknown Message."""
    message = channel.messages.get(call.snowflake("message_id"))
    if message is None:
        raise unknown("Message", 10008)
    return message


async def get_channel(ctx: RestContext, call: RestCall) -> Reply:
    """GET /channels/{id}."""
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL)
    return Reply(200, payloads.channel_payload(ctx.state, channel))


async def patch_channel(ctx: RestContext, call: RestCall) -> Reply:
    """PATCH /channels/{id}: validate, apply the hidden 2-per-10-minutes rename limit, update, dispatch."""
    channel = _channel(ctx, call)
    needed = VIEW_CHANNEL | MANAGE_CHANNELS | (CONNECT if channel.type == VOICE else 0)
    _require(ctx, channel, needed)
    body = await call.json()
    if not isinstance(body, dict):
        raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Expected an object"}]})
    new_name = check_channel_name(body["name"], channel.type) if "name" in body else None
    topic = body.get("topic")
    if topic is not None and (not isinstance(topic, str) or len(topic) > TOPIC_MAX):
        raise invalid_form(
            {"topic": field_error("BASE_TYPE_MAX_LENGTH", f"Must be {TOPIC_MAX} or fewer in length.")}
        )
    overwrites = parse_overwrites(body["permission_overwrites"]) if "permission_overwrites" in body else None
    if overwrites is not None:
        _check_overwrite_edit(ctx, channel, overwrites)
    parent_id = check_parent(ctx.state, body["parent_id"], channel.type) if "parent_id" in body else None
    if "name" in body or "topic" in body:
        # Discord counts every name/topic edit, changed or not, where it receives it; not shown in headers.
        wait = ctx.renames.retry_after(channel.id)
        if wait > 0:
            ctx.journal.record_rename_429(channel.id, ctx.clock.monotonic(), wait)
            log.info("sandbox.rename_429", channel_id=channel.id, retry_after=wait)
            raise HiddenRateLimited(wait)
        ctx.renames.record(channel.id)
    if new_name is not None:
        old, channel.name = channel.name, new_name
        ctx.journal.record_rename(channel.id, ctx.clock.monotonic(), old, new_name)
        log.info("sandbox.rename", channel_id=channel.id, old=old, new=new_name)
    if "topic" in body and channel.type != VOICE:
        channel.topic = topic
    if isinstance(body.get("position"), int):
        channel.position = body["position"]
    if channel.type == VOICE and isinstance(body.get("user_limit"), int):
        channel.user_limit = body["user_limit"]
    if channel.type == VOICE and isinstance(body.get("bitrate"), int):
        channel.bitrate = body["bitrate"]
    if overwrites is not None:
        channel.overwrites = []
        for overwrite in overwrites:
            ctx.state.put_overwrite(channel, overwrite)
    if "parent_id" in body:
        channel.parent_id = parent_id
    payload = payloads.channel_payload(ctx.state, channel)
    ctx.events.dispatch("CHANNEL_UPDATE", payload)
    return Reply(200, payload)


def check_parent(state: GuildState, raw: Any, channel_type: int) -> int | None:
    """The category a channel may be put in (None for none); 400 unless it is an existing category.

    The error's code and message are illustrative: Discord's exact wording for a bad parent is not documented.
    """
    if raw is None:
        return None
    parent_id = int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else None
    parent = None if parent_id is None else state.channels.get(parent_id)
    if parent is None or parent.type != CATEGORY or channel_type == CATEGORY:
        raise invalid_form({"parent_id": field_error("CHANNEL_PARENT_INVALID", "Invalid parent category.")})
    return parent.id


def check_overwrite_grants(
    state: GuildState, overwrites: list[Overwrite], *, base: int | None = None
) -> None:
    """403 Missing Permissions when an overwrite allows or denies what the bot itself may not do.

    Discord lets a bot allow or deny only permissions it has in the guild (or `base`), and lets only
    administrators put Manage Roles (Manage Permissions) in a channel's overwrites.
    """
    have = state.bot_guild_permissions() if base is None else base
    if have & ADMINISTRATOR:
        return
    for overwrite in overwrites:
        bits = overwrite.allow | overwrite.deny
        if bits & MANAGE_ROLES or bits & ~have:
            raise missing_permissions()


def _check_overwrite_edit(ctx: RestContext, channel: Channel, overwrites: list[Overwrite]) -> None:
    """Editing a channel's overwrites (PUT one, or PATCH them all) as Discord allows it.

    Needs Manage Roles in the channel (Discord's "Manage Permissions"): 403 Missing Permissions without.
    Only permissions the bot has in the guild or the parent category may be allowed or denied, unless an
    overwrite in the channel allows the bot Manage Roles explicitly.
    """
    state = ctx.state
    if not state.bot_permissions(channel) & MANAGE_ROLES:
        raise missing_permissions()
    if state.bot_overwrite_allows_manage_roles(channel):
        return
    parent = None if channel.parent_id is None else state.channels.get(channel.parent_id)
    have = state.bot_guild_permissions() | (0 if parent is None else state.bot_permissions(parent))
    if have & ADMINISTRATOR:
        return
    if any((o.allow | o.deny) & ~have for o in overwrites):
        raise missing_permissions()


async def delete_channel(ctx: RestContext, call: RestCall) -> Reply:
    """DELETE /channels/{id}: needs Manage Channels there; 200 with the channel, CHANNEL_DELETE.

    The channels of a deleted category stay, without a parent: one CHANNEL_UPDATE each, as on Discord.
    """
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL | MANAGE_CHANNELS)
    ctx.state.delete_channel(channel.id)
    payload = payloads.channel_payload(ctx.state, channel)
    ctx.events.dispatch("CHANNEL_DELETE", payload)
    for child in ctx.state.orphan_children(channel.id):
        ctx.events.dispatch("CHANNEL_UPDATE", payloads.channel_payload(ctx.state, child))
    log.info("sandbox.channel_delete", channel_id=channel.id, via="rest")
    return Reply(200, payload)


async def put_permission(ctx: RestContext, call: RestCall) -> Reply:
    """PUT /channels/{id}/permissions/{overwrite_id} {type, allow?, deny?}: 204 and CHANNEL_UPDATE.

    Needs Manage Roles in the channel; see `_check_overwrite_edit` for what may be allowed or denied.
    """
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL)
    overwrite = parse_overwrite(await call.json(), call.snowflake("overwrite_id"))
    _check_overwrite_edit(ctx, channel, [overwrite])
    ctx.state.put_overwrite(channel, overwrite)
    ctx.events.dispatch("CHANNEL_UPDATE", payloads.channel_payload(ctx.state, channel))
    return Reply(204)


def _object(body: Any) -> dict[str, Any]:
    """The body as a JSON object, or Discord's 400."""
    if not isinstance(body, dict):
        raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Expected an object"}]})
    return body


async def post_message(ctx: RestContext, call: RestCall) -> Reply:
    """POST /channels/{id}/messages: validate, honour `enforce_nonce`, store, dispatch MESSAGE_CREATE.

    A multipart body carries files (Attach Files needed): see `src.sandbox.attachments`.
    """
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL | SEND_MESSAGES)
    body = _object(await call.json())
    uploads = await call.uploads()
    if uploads:
        _require(ctx, channel, VIEW_CHANNEL | SEND_MESSAGES | ATTACH_FILES)
    planned = plan_attachments(body, uploads) or []
    content, embeds, nonce = check_new_message(body, require_content=not planned)
    author_id = ctx.state.bot_user_id
    if nonce is not None and body.get("enforce_nonce") is True:
        earlier = ctx.state.nonces.find(author_id, channel.id, nonce)
        existing = None if earlier is None else channel.messages.get(earlier)
        if existing is not None:
            # A retried send (e.g. after a lost answer) gets the message it created, not a second one.
            log.info("sandbox.message_nonce_reused", channel_id=channel.id, message_id=existing["id"])
            return Reply(200, {**existing, "nonce": nonce})
    message = payloads.message_payload(ctx.state, channel, ctx.state.next_id(), content, embeds)
    apply_attachments(ctx, message, planned)
    ctx.state.store_message(channel, message)
    log.debug("sandbox.message", channel_id=channel.id, message_id=message["id"], files=len(planned))
    created = dict(message)  # the stored message keeps no nonce: Discord does not persist it
    if nonce is not None:
        ctx.state.nonces.remember(author_id, channel.id, nonce, int(message["id"]))
        created["nonce"] = nonce
    ctx.events.dispatch("MESSAGE_CREATE", created)
    return Reply(200, created)


async def list_messages(ctx: RestContext, call: RestCall) -> Reply:
    """GET /channels/{id}/messages?limit=&before=&after=&around= (newest first)."""
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
    limit = call.query_int("limit", default=50, low=1, high=MESSAGES_PAGE_MAX)
    ordered = list(channel.messages)  # ascending: ids only grow
    before, after, around = (call.query_snowflake(k) for k in ("before", "after", "around"))
    if around is not None:
        older = [m for m in ordered if m < around][-(limit // 2) :] if limit // 2 else []
        newer = [m for m in ordered if m >= around][: limit - len(older)]
        chosen = older + newer
    elif after is not None:
        chosen = [m for m in ordered if m > after][:limit]
    else:
        chosen = [m for m in ordered if before is None or m < before][-limit:]
    return Reply(200, [channel.messages[m] for m in reversed(chosen)])


async def get_message(ctx: RestContext, call: RestCall) -> Reply:
    """GET /channels/{id}/messages/{message_id}."""
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL | READ_MESSAGE_HISTORY)
    return Reply(200, _message(channel, call))


async def patch_message(ctx: RestContext, call: RestCall) -> Reply:
    """PATCH /channels/{id}/messages/{message_id}: edit content, embeds and/or attachments; MESSAGE_UPDATE."""
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL)
    message = _message(channel, call)
    body = _object(await call.json())
    uploads = await call.uploads()
    if uploads:
        _require(ctx, channel, VIEW_CHANNEL | ATTACH_FILES)
    planned = plan_attachments(body, uploads, message["attachments"])
    merged = {
        "content": body["content"] if "content" in body else message["content"],
        "embeds": body["embeds"] if "embeds" in body else message["embeds"],
    }
    attached = message["attachments"] if planned is None else planned
    content, embeds = check_message(merged, require_content=not attached)
    message.update(content=content, embeds=embeds, edited_timestamp=ids.iso(ctx.state.now()))
    apply_attachments(ctx, message, planned)
    ctx.events.dispatch("MESSAGE_UPDATE", message)
    return Reply(200, message)


async def delete_message(ctx: RestContext, call: RestCall) -> Reply:
    """DELETE /channels/{id}/messages/{message_id}: 204, then 10008 for that id."""
    channel = _channel(ctx, call)
    _require(ctx, channel, VIEW_CHANNEL)
    message = _message(channel, call)
    del channel.messages[int(message["id"])]
    event = {"id": message["id"], "channel_id": str(channel.id), "guild_id": str(ctx.state.guild_id)}
    ctx.events.dispatch("MESSAGE_DELETE", event)
    return Reply(204)


def channel_routes() -> list[RouteDef]:
    """The routes of this module."""
    return [
        route("GET", "/channels/{channel_id}", get_channel),
        route("PATCH", "/channels/{channel_id}", patch_channel, limit=10, window=10.0),
        route("DELETE", "/channels/{channel_id}", delete_channel, limit=5, window=5.0),
        route(
            "PUT", "/channels/{channel_id}/permissions/{overwrite_id}", put_permission, limit=10, window=10.0
        ),
        route("POST", "/channels/{channel_id}/messages", post_message, limit=5, window=5.0),
        route("GET", "/channels/{channel_id}/messages", list_messages),
        route("GET", "/channels/{channel_id}/messages/{message_id}", get_message),
        route("PATCH", "/channels/{channel_id}/messages/{message_id}", patch_message, limit=5, window=5.0),
        route("DELETE", "/channels/{channel_id}/messages/{message_id}", delete_message, limit=5, window=1.0),
    ]
