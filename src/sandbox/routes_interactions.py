"""REST routes that answer interactions: the callback, `@original` and follow-up messages.

These authenticate with the interaction token in the URL, not the bot token, as on Discord. Each accepts a
multipart body with files, as a channel message does (see `src.sandbox.attachments`).
"""

from __future__ import annotations

from typing import Any

import structlog

from src.sandbox.attachments import apply_attachments, attachment_summary, plan_attachments
from src.sandbox.interactions import (
    CALLBACK_DEFERRED,
    CALLBACK_MESSAGE,
    EPHEMERAL,
    LOADING,
    InteractionRecord,
)
from src.sandbox.journal import InteractionResponseRecord
from src.sandbox.responses import ApiError, Reply, field_error, invalid_form, unknown
from src.sandbox.restcore import RestCall, RestContext, RouteDef, route
from src.sandbox.validation import check_message

log = structlog.get_logger(__name__)

# Flags an application may set on a response message: SUPPRESS_EMBEDS, EPHEMERAL, SUPPRESS_NOTIFICATIONS.
SETTABLE_FLAGS = (1 << 2) | EPHEMERAL | (1 << 12)


def _interaction(ctx: RestContext, call: RestCall) -> InteractionRecord:
    """The interaction addressed by a callback URL; 404 Unknown Interaction once its deadline passed."""
    record = ctx.interactions.find(call.params["interaction_token"])
    if (
        record is None
        or str(record.id) != call.params["interaction_id"]
        or ctx.interactions.is_expired(record)
    ):
        raise unknown("interaction", 10062)
    return record


def _webhook(ctx: RestContext, call: RestCall) -> InteractionRecord:
    """The interaction behind a webhook URL (application id + interaction token)."""
    record = ctx.interactions.find(call.params["webhook_token"])
    if record is None or call.params["webhook_id"] != str(ctx.state.application_id):
        raise unknown("Webhook", 10015)
    return record


def _object(body: Any) -> dict[str, Any]:
    """The body as a JSON object, or Discord's 400."""
    if not isinstance(body, dict):
        raise invalid_form({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Expected an object"}]})
    return body


def _original(record: InteractionRecord) -> dict[str, Any]:
    """The original response message, or 404 Unknown Message."""
    if record.original is None or record.original_deleted:
        raise unknown("Message", 10008)
    return record.original


def _journal(ctx: RestContext, record: InteractionRecord, action: str, message: dict[str, Any]) -> None:
    """Record what the member was shown."""
    ctx.journal.record_interaction_response(
        InteractionResponseRecord(
            ctx.clock.monotonic(),
            record.id,
            action,
            str(message.get("content") or ""),
            list(message.get("embeds") or []),
            int(message.get("flags") or 0),
            tuple(attachment_summary(message.get("attachments") or [])),
        )
    )
    log.info("sandbox.interaction_response", interaction_id=record.id, action=action)


def _publish(ctx: RestContext, message: dict[str, Any], event: str) -> None:
    """Public responses are channel messages everyone sees; ephemeral ones exist only for the member."""
    if int(message.get("flags") or 0) & EPHEMERAL:
        return
    channel = ctx.state.channels.get(int(message["channel_id"]))
    if channel is None:
        return
    if event == "MESSAGE_DELETE":
        channel.messages.pop(int(message["id"]), None)
        ids = {"id": message["id"], "channel_id": message["channel_id"], "guild_id": message["guild_id"]}
        ctx.events.dispatch(event, ids)
        return
    if event == "MESSAGE_CREATE":
        ctx.state.store_message(channel, message)
    ctx.events.dispatch(event, message)


async def post_callback(ctx: RestContext, call: RestCall) -> Reply:
    """POST /interactions/{id}/{token}/callback: type 4 (message) or 5 (deferred), once."""
    record = _interaction(ctx, call)
    if record.callback_type is not None:
        raise ApiError(400, 40060, "Interaction has already been acknowledged.")
    body = await call.json()
    kind = body.get("type") if isinstance(body, dict) else None
    data = body.get("data") if isinstance(body, dict) else None
    data = data if isinstance(data, dict) else {}
    flags = int(data.get("flags") or 0) & SETTABLE_FLAGS
    if kind == CALLBACK_MESSAGE:
        planned = plan_attachments(data, await call.uploads()) or []
        content, embeds = check_message(data, require_content=not planned)
    elif kind == CALLBACK_DEFERRED:  # files sent with a deferral are ignored, as Discord shows none
        content, embeds, flags, planned = "", [], (flags & EPHEMERAL) | LOADING, []
    else:
        raise invalid_form(
            {"type": field_error("INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")}
        )
    message = ctx.interactions.response_message(record, content, embeds, flags, original=True)
    apply_attachments(ctx, message, planned)
    record.callback_type, record.original = kind, message
    record.acknowledged.set()
    if kind == CALLBACK_MESSAGE:
        record.settled.set()
    _publish(ctx, message, "MESSAGE_CREATE")
    _journal(ctx, record, f"callback:{kind}", message)
    if not call.query_flag("with_response"):
        return Reply(204)
    summary = {
        "id": str(record.id),
        "type": 2,
        "response_message_id": message["id"],
        "response_message_loading": kind == CALLBACK_DEFERRED,
        "response_message_ephemeral": bool(flags & EPHEMERAL),
    }
    return Reply(200, {"interaction": summary, "resource": {"type": kind, "message": message}})


async def get_original(ctx: RestContext, call: RestCall) -> Reply:
    """GET /webhooks/{app}/{token}/messages/@original."""
    return Reply(200, _original(_webhook(ctx, call)))


async def patch_original(ctx: RestContext, call: RestCall) -> Reply:
    """PATCH /webhooks/{app}/{token}/messages/@original: completes a deferral or edits the answer.

    An `attachments` array lists what the message keeps (existing attachments by id) and its new files.
    """
    record = _webhook(ctx, call)
    message = _original(record)
    body = _object(await call.json())
    planned = plan_attachments(body, await call.uploads(), message["attachments"])
    merged = {
        "content": body["content"] if "content" in body else message["content"],
        "embeds": body["embeds"] if "embeds" in body else message["embeds"],
    }
    attached = message["attachments"] if planned is None else planned
    content, embeds = check_message(merged, require_content=not attached)
    flags = int(message.get("flags") or 0)
    if not flags & LOADING:
        message["edited_timestamp"] = ctx.interactions.now_iso()
    message.update(content=content, embeds=embeds, flags=flags & ~LOADING)
    apply_attachments(ctx, message, planned)
    record.settled.set()
    _publish(ctx, message, "MESSAGE_UPDATE")
    _journal(ctx, record, "edit_original", message)
    return Reply(200, message)


async def delete_original(ctx: RestContext, call: RestCall) -> Reply:
    """DELETE /webhooks/{app}/{token}/messages/@original."""
    record = _webhook(ctx, call)
    message = _original(record)
    record.original_deleted = True
    _publish(ctx, message, "MESSAGE_DELETE")
    _journal(ctx, record, "delete_original", message)
    return Reply(204)


async def post_followup(ctx: RestContext, call: RestCall) -> Reply:
    """POST /webhooks/{app}/{token}: a follow-up message, once the interaction is acknowledged."""
    record = _webhook(ctx, call)
    if record.callback_type is None:
        raise unknown("Webhook", 10015)
    body = _object(await call.json())
    planned = plan_attachments(body, await call.uploads()) or []
    content, embeds = check_message(body, require_content=not planned)
    flags = int(body.get("flags") or 0) & SETTABLE_FLAGS
    message = ctx.interactions.response_message(record, content, embeds, flags, original=False)
    apply_attachments(ctx, message, planned)
    record.followups.append(message)
    record.settled.set()
    _publish(ctx, message, "MESSAGE_CREATE")
    _journal(ctx, record, "followup", message)
    return Reply(200, message) if call.query_flag("wait") else Reply(204)


def interaction_routes() -> list[RouteDef]:
    """The routes of this module."""
    webhook = "/webhooks/{webhook_id}/{webhook_token}"
    original = webhook + "/messages/@original"
    return [
        route(
            "POST", "/interactions/{interaction_id}/{interaction_token}/callback", post_callback, auth=False
        ),
        route("GET", original, get_original, auth=False),
        route("PATCH", original, patch_original, limit=5, window=1.0, auth=False),
        route("DELETE", original, delete_original, limit=5, window=1.0, auth=False),
        route("POST", webhook, post_followup, limit=5, window=1.0, auth=False),
    ]
