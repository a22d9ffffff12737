"""Scenario control over HTTP on its own loopback port: a thin layer over the `Sandbox` methods."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web

from src.sandbox.permission_names import permission_mask, permission_names

if TYPE_CHECKING:
    from src.sandbox.server import Sandbox

log = structlog.get_logger(__name__)

SANDBOX_KEY: web.AppKey[Sandbox] = web.AppKey("sandbox")
HandlerFn = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _errors(request: web.Request, handler: HandlerFn) -> web.StreamResponse:
    """Turn bad input into 400 and unknown ids into 404, with a JSON `error`."""
    try:
        return await handler(request)
    except KeyError as exc:
        return web.json_response({"error": f"not found: {exc}"}, status=404)
    except PermissionError as exc:
        return web.json_response({"error": str(exc)}, status=403)
    except (ValueError, TypeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object body ({} when empty)."""
    text = await request.text()
    if not text.strip():
        return {}
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _required(body: dict[str, Any], key: str) -> Any:
    """A mandatory body field (400, not 404, when missing)."""
    if key not in body:
        raise ValueError(f"missing field {key!r}")
    return body[key]


def _sandbox(request: web.Request) -> Sandbox:
    """The sandbox this control app drives."""
    return request.app[SANDBOX_KEY]


def _id(request: web.Request) -> int:
    """The numeric `{id}` path parameter."""
    return int(request.match_info["id"])


def _ok(**extra: Any) -> web.Response:
    """A small success body."""
    return web.json_response({"ok": True, **extra})


def _names(body: dict[str, Any], key: str) -> int:
    """The permission mask of an optional list of Discord permission names (400 for anything else)."""
    names = body.get(key, [])
    if not isinstance(names, list):
        raise ValueError(f'{key} must be a list of permission names, e.g. ["MANAGE_CHANNELS"]')
    return permission_mask(names)


def _snapshot(sb: Sandbox) -> dict[str, Any]:
    """Counts, roles, boosts, channels, messages and presence."""
    state = sb.state
    channels = {
        str(cid): {"name": c.name, "type": c.type, "parent_id": c.parent_id and str(c.parent_id)}
        for cid, c in state.channels.items()
    }
    roles = [
        {"id": str(r.id), "name": r.name, "member_count": state.role_member_count(r.id)}
        for r in state.roles.values()
    ]
    return {
        "member_count": sb.member_count,
        "bot_member_count": sb.bot_member_count,
        "ban_count": sb.ban_count,
        "online_count": sb.online_count,
        "boosts": state.boosts,
        "premium_tier": state.premium_tier,
        "roles": roles,
        "bot_permissions": permission_names(state.bot_guild_permissions()),
        "invalid_requests": sb.invalid_requests,
        "channel_names": {cid: c["name"] for cid, c in channels.items()},
        "channels": channels,
        "messages": {str(cid): sb.messages(cid) for cid in state.channels},
        "presence": sb.presence,
    }


async def get_info(request: web.Request) -> web.Response:
    """GET /info: URLs, ids and token."""
    return web.json_response(_sandbox(request).info())


async def get_state(request: web.Request) -> web.Response:
    """GET /state: counts, roles, boosts, channels, messages, presence."""
    return web.json_response(_snapshot(_sandbox(request)))


async def get_journal(request: web.Request) -> web.Response:
    """GET /journal: requests, gateway frames, renames, presences plus the /state snapshot."""
    sb = _sandbox(request)
    return web.json_response({**sb.journal.to_dict(), **_snapshot(sb)})


async def post_member(request: web.Request) -> web.Response:
    """POST /members {user_id?, username?, bot?, roles?} -> {id}."""
    body = await _body(request)
    user_id = body.get("user_id")
    roles = body.get("roles", [])
    if not isinstance(roles, list):
        raise ValueError("roles must be a list of role ids")
    uid = await _sandbox(request).add_member(
        None if user_id is None else int(user_id),
        body.get("username"),
        bool(body.get("bot", False)),
        [int(r) for r in roles],
    )
    return web.json_response({"id": uid}, status=201)


async def post_member_role(request: web.Request) -> web.Response:
    """POST /members/{id}/roles/{role_id}: give the member the role (GUILD_MEMBER_UPDATE)."""
    changed = await _sandbox(request).set_member_role(_id(request), int(request.match_info["role_id"]), True)
    return _ok(changed=changed)


async def delete_member_role(request: web.Request) -> web.Response:
    """DELETE /members/{id}/roles/{role_id}: take the role from the member (GUILD_MEMBER_UPDATE)."""
    changed = await _sandbox(request).set_member_role(_id(request), int(request.match_info["role_id"]), False)
    return _ok(changed=changed)


async def post_role(request: web.Request) -> web.Response:
    """POST /roles {name, permissions?} -> 201 {id} (GUILD_ROLE_CREATE)."""
    body = await _body(request)
    role_id = await _sandbox(request).create_role(str(_required(body, "name")), _names(body, "permissions"))
    return web.json_response({"id": role_id}, status=201)


async def delete_role(request: web.Request) -> web.Response:
    """DELETE /roles/{id} (GUILD_ROLE_DELETE)."""
    await _sandbox(request).delete_role(_id(request))
    return _ok()


async def post_boosts(request: web.Request) -> web.Response:
    """POST /boosts {count} (GUILD_UPDATE)."""
    sb = _sandbox(request)
    await sb.set_boosts(int(_required(await _body(request), "count")))
    return _ok(boosts=sb.state.boosts, premium_tier=sb.state.premium_tier)


async def post_bot_permissions(request: web.Request) -> web.Response:
    """POST /guild/bot-permissions {allow?, deny?}: the bot role's default plus allow minus deny."""
    body = await _body(request)
    sb = _sandbox(request)
    await sb.set_bot_permissions(allow=_names(body, "allow"), deny=_names(body, "deny"))
    return _ok(permissions=permission_names(sb.state.bot_guild_permissions()))


async def delete_member(request: web.Request) -> web.Response:
    """DELETE /members/{id}: the member leaves."""
    await _sandbox(request).remove_member(_id(request))
    return _ok()


async def post_ban(request: web.Request) -> web.Response:
    """POST /bans/{id} {remove?, reason?}."""
    body = await _body(request)
    await _sandbox(request).ban(_id(request), bool(body.get("remove", True)), body.get("reason"))
    return _ok()


async def delete_ban(request: web.Request) -> web.Response:
    """DELETE /bans/{id}: unban."""
    await _sandbox(request).unban(_id(request))
    return _ok()


async def post_online(request: web.Request) -> web.Response:
    """POST /online {count}."""
    sb = _sandbox(request)
    sb.set_online(int(_required(await _body(request), "count")))
    return _ok(online_count=sb.online_count)


async def post_drop(request: web.Request) -> web.Response:
    """POST /gateway/drop {resumable?, reconnect_op?}."""
    body = await _body(request)
    await _sandbox(request).drop_gateway(
        bool(body.get("resumable", True)), reconnect_op=bool(body.get("reconnect_op", False))
    )
    return _ok()


async def post_replay(request: web.Request) -> web.Response:
    """POST /gateway/replay {count, events?}: send the last `count` dispatches again."""
    body = await _body(request)
    events = body.get("events")
    if events is not None and (not isinstance(events, list) or not all(isinstance(e, str) for e in events)):
        raise ValueError("events must be a list of event names")
    sent = await _sandbox(request).replay_dispatches(int(_required(body, "count")), events)
    return _ok(replayed=sent)


async def post_fault(request: web.Request) -> web.Response:
    """POST /faults {pattern, status?, count?, duration?, global?, retry_after?}."""
    body = await _body(request)
    count, duration = body.get("count"), body.get("duration")
    _sandbox(request).inject_fault(
        str(_required(body, "pattern")),
        status=int(body.get("status", 500)),
        count=None if count is None else int(count),
        duration=None if duration is None else float(duration),
        global_429=bool(body.get("global", False)),
        retry_after=float(body.get("retry_after", 1.0)),
    )
    return _ok()


async def delete_faults(request: web.Request) -> web.Response:
    """DELETE /faults."""
    _sandbox(request).clear_faults()
    return _ok()


async def post_delay(request: web.Request) -> web.Response:
    """POST /delays {pattern, seconds, count?, duration?}."""
    body = await _body(request)
    count, duration = body.get("count"), body.get("duration")
    _sandbox(request).delay_responses(
        str(_required(body, "pattern")),
        float(_required(body, "seconds")),
        count=None if count is None else int(count),
        duration=None if duration is None else float(duration),
    )
    return _ok()


async def delete_delays(request: web.Request) -> web.Response:
    """DELETE /delays."""
    _sandbox(request).clear_delays()
    return _ok()


async def post_permissions(request: web.Request) -> web.Response:
    """POST /channels/{id}/permissions {manage_channels?, view?, send_messages?}."""
    body = await _body(request)
    sb = _sandbox(request)
    sb.set_channel_permissions(
        _id(request),
        manage_channels=bool(body.get("manage_channels", True)),
        view=bool(body.get("view", True)),
        send_messages=bool(body.get("send_messages", True)),
    )
    await sb.flush()
    return _ok()


async def delete_channel(request: web.Request) -> web.Response:
    """DELETE /channels/{id}."""
    sb = _sandbox(request)
    sb.delete_channel(_id(request))
    await sb.flush()
    return _ok()


async def post_command(request: web.Request) -> web.Response:
    """POST /commands/invoke {name, options?, user_id?, member_permissions?, channel?}: use a command."""
    body = await _body(request)
    permissions, user_id = body.get("member_permissions"), body.get("user_id")
    result = await _sandbox(request).invoke_command(
        str(_required(body, "name")),
        dict(body.get("options") or {}),
        user_id=None if user_id is None else int(user_id),
        member_permissions=None if permissions is None else int(permissions),
        channel=body.get("channel", "general"),
    )
    return web.json_response(
        {"failed": result.failed, "callback_type": result.callback_type, "messages": result.messages}
    )


def build_control_app(sandbox: Sandbox) -> web.Application:
    """The control application bound to `sandbox`."""
    app = web.Application(middlewares=[_errors])
    app[SANDBOX_KEY] = sandbox
    app.router.add_get("/info", get_info)
    app.router.add_get("/state", get_state)
    app.router.add_get("/journal", get_journal)
    app.router.add_post("/members", post_member)
    app.router.add_delete("/members/{id}", delete_member)
    app.router.add_post("/members/{id}/roles/{role_id}", post_member_role)
    app.router.add_delete("/members/{id}/roles/{role_id}", delete_member_role)
    app.router.add_post("/roles", post_role)
    app.router.add_delete("/roles/{id}", delete_role)
    app.router.add_post("/boosts", post_boosts)
    app.router.add_post("/guild/bot-permissions", post_bot_permissions)
    app.router.add_post("/bans/{id}", post_ban)
    app.router.add_delete("/bans/{id}", delete_ban)
    app.router.add_post("/online", post_online)
    app.router.add_post("/gateway/drop", post_drop)
    app.router.add_post("/gateway/replay", post_replay)
    app.router.add_post("/faults", post_fault)
    app.router.add_delete("/faults", delete_faults)
    app.router.add_post("/delays", post_delay)
    app.router.add_delete("/delays", delete_delays)
    app.router.add_post("/channels/{id}/permissions", post_permissions)
    app.router.add_delete("/channels/{id}", delete_channel)
    app.router.add_post("/commands/invoke", post_command)
    return app
