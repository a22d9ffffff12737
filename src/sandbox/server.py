"""The `Sandbox` facade: starts the REST+gateway server and the control server, and drives scenarios."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import structlog
from aiohttp import web

from src.sandbox import payloads
from src.sandbox.attachments import CDN_PREFIX
from src.sandbox.config import Endpoints, SandboxConfig
from src.sandbox.control import build_control_app
from src.sandbox.faults import DelayInjector, FaultInjector
from src.sandbox.gateway import GatewayHub
from src.sandbox.ids import SnowflakeFactory
from src.sandbox.interactions import InteractionRecord, InteractionRegistry, InteractionResult
from src.sandbox.journal import Journal
from src.sandbox.ratelimit import SlidingWindowLimiter
from src.sandbox.rest import API_PREFIX, RestApi
from src.sandbox.restcore import RestContext
from src.sandbox.state import BOT_ROLE_PERMISSIONS, GuildState
from src.types.permissions import MANAGE_CHANNELS, SEND_MESSAGES, VIEW_CHANNEL
from src.types.ports import Clock
from src.utils.clock import SystemClock

__all__ = ["Sandbox", "SandboxConfig"]

log = structlog.get_logger(__name__)

HOST = "127.0.0.1"  # never reachable from outside the machine
RENAME_LIMIT, RENAME_WINDOW = (
    2,
    600.0,
)  # Discord's hidden limit: 2 name/topic edits per 10 minutes per channel


class Sandbox:
    """A local Discord: one guild, REST API v10 and gateway for an unmodified discord.py client."""

    def __init__(self, config: SandboxConfig | None = None, *, clock: Clock | None = None) -> None:
        self.config = config or SandboxConfig()
        self.config.validate()
        self._clock: Clock = clock or SystemClock()
        self.state = GuildState(self.config, self._clock, SnowflakeFactory(self._clock))
        self.journal = Journal()
        self._endpoints = Endpoints()
        self._faults = FaultInjector(self._clock)
        self._delays = DelayInjector(self._clock)
        self._hub = GatewayHub(self.config, self.state, self.journal, self._clock, self._endpoints)
        renames = SlidingWindowLimiter(
            self._clock, limit=RENAME_LIMIT, window=RENAME_WINDOW, time_scale=self.config.time_scale
        )
        self._interactions = InteractionRegistry(self.state, self._clock, self.config.interaction_timeout)
        ctx = RestContext(
            self.config,
            self.state,
            self.journal,
            self._clock,
            self._hub,
            self._endpoints,
            renames,
            self._interactions,
        )
        self._rest = RestApi(ctx, self._faults, self._delays)
        self._runners: list[web.AppRunner] = []

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Bind both servers on 127.0.0.1 and fill in the URLs."""
        if self._runners:
            raise RuntimeError("sandbox already started")
        app = web.Application()
        app.router.add_get("/gateway", self._hub.handle)
        app.router.add_get("/gateway/", self._hub.handle)
        app.router.add_get(CDN_PREFIX + "/{channel_id}/{attachment_id}/{filename}", self._serve_attachment)
        app.router.add_route("*", "/{tail:.*}", self._rest.handle)
        try:
            port = await self._serve(app, self.config.rest_port)
            control_port = await self._serve(build_control_app(self), self.config.control_port)
        except BaseException:
            await self.stop()
            raise
        self._endpoints.rest_url = f"http://{HOST}:{port}{API_PREFIX}"
        self._endpoints.gateway_url = f"ws://{HOST}:{port}/gateway"
        self._endpoints.control_url = f"http://{HOST}:{control_port}"
        self._endpoints.cdn_url = f"http://{HOST}:{port}"
        log.info("sandbox.started", **self.info())

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        """GET /attachments/{channel_id}/{attachment_id}/{filename}: the bytes, as Discord's CDN serves them.

        No token needed; 404 with Discord's CDN text when the URL names no kept file.
        """
        match = request.match_info
        channel_id, attachment_id = match["channel_id"], match["attachment_id"]
        stored = None
        if channel_id.isdigit() and attachment_id.isdigit():
            stored = self.state.attachments.find(int(channel_id), int(attachment_id), match["filename"])
        if stored is None:
            return web.Response(status=404, text="This content is no longer available.")
        return web.Response(body=stored.data, headers={"Content-Type": stored.content_type})

    async def _serve(self, app: web.Application, port: int) -> int:
        """Start `app` on HOST:port and return the bound port."""
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        self._runners.append(runner)
        await web.TCPSite(runner, HOST, port).start()
        return int(runner.addresses[0][1])

    async def stop(self) -> None:
        """Close every websocket and both servers; safe to call twice."""
        if not self._runners:
            return
        await self._hub.close_all()
        while self._runners:
            await self._runners.pop().cleanup()
        log.info("sandbox.stopped")

    async def __aenter__(self) -> Sandbox:
        """Start on entry."""
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop on exit."""
        await self.stop()

    # --- addresses and ids ----------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        """What `discord.http.Route.BASE` must be set to, e.g. http://127.0.0.1:PORT/api/v10."""
        return self._endpoints.rest_url

    @property
    def gateway_url(self) -> str:
        """What `DiscordWebSocket.DEFAULT_GATEWAY` must be set to, e.g. ws://127.0.0.1:PORT/gateway."""
        return self._endpoints.gateway_url

    @property
    def control_url(self) -> str:
        """The scenario-control HTTP API, e.g. http://127.0.0.1:CPORT."""
        return self._endpoints.control_url

    @property
    def cdn_url(self) -> str:
        """Where attachment URLs point (Discord's CDN), e.g. http://127.0.0.1:PORT."""
        return self._endpoints.cdn_url

    @property
    def guild_id(self) -> int:
        """The only guild's id."""
        return self.state.guild_id

    @property
    def channel_ids(self) -> dict[str, int]:
        """Seeded channels: members/online/bans (voice counters), heartbeat/stats/general (text)."""
        return dict(self.state.channel_ids)

    @property
    def application_id(self) -> int:
        """The bot application's id."""
        return self.state.application_id

    @property
    def bot_user_id(self) -> int:
        """The bot user's id."""
        return self.state.bot_user_id

    @property
    def role_ids(self) -> dict[str, int]:
        """Every role by name: "@everyone" (the guild id), "StatsBot" (the bot's), "Role 1".."Role N", ..."""
        return {role.name: role.id for role in self.state.roles.values()}

    def info(self) -> dict[str, Any]:
        """The JSON object the CLI prints: URLs, ids and the token to use."""
        return {
            "rest_url": self.rest_url,
            "gateway_url": self.gateway_url,
            "control_url": self.control_url,
            "guild_id": self.guild_id,
            "channel_ids": self.channel_ids,
            "application_id": self.application_id,
            "bot_user_id": self.bot_user_id,
            "token": self.config.token,
        }

    # --- scenario control -----------------------------------------------------------------------------

    async def add_member(
        self,
        user_id: int | None = None,
        username: str | None = None,
        bot: bool = False,
        roles: Iterable[int] | None = None,
    ) -> int:
        """Add a member (holding `roles`) and dispatch GUILD_MEMBER_ADD; return the new member's id."""
        uid = self.state.add_member(user_id, username, bot, None if roles is None else list(roles))
        self._hub.dispatch(
            "GUILD_MEMBER_ADD", {**payloads.member_payload(self.state, uid), "guild_id": self._gid}
        )
        log.info("sandbox.member_add", user_id=uid, member_count=self.member_count)
        await self._hub.flush()
        return uid

    async def remove_member(self, user_id: int) -> None:
        """Remove a member and dispatch GUILD_MEMBER_REMOVE (KeyError if not a member)."""
        self._remove(user_id)
        log.info("sandbox.member_remove", user_id=user_id, member_count=self.member_count)
        await self._hub.flush()

    def _remove(self, user_id: int) -> None:
        """Remove a member and queue its GUILD_MEMBER_REMOVE."""
        user = payloads.user_payload(self.state, user_id)
        self.state.remove_member(user_id)
        self._hub.dispatch("GUILD_MEMBER_REMOVE", {"guild_id": self._gid, "user": user})

    async def ban(self, user_id: int, remove: bool = True, reason: str | None = None) -> None:
        """Ban a user: GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE if a member and `remove` (like Discord)."""
        was_member = user_id in self.state.members
        if self.state.ban(user_id, reason):
            user = payloads.user_payload(self.state, user_id)
            self._hub.dispatch("GUILD_BAN_ADD", {"guild_id": self._gid, "user": user})
        if remove and was_member:
            self._remove(user_id)
        log.info("sandbox.ban", user_id=user_id, ban_count=self.ban_count, member_count=self.member_count)
        await self._hub.flush()

    async def unban(self, user_id: int) -> None:
        """Lift a ban and dispatch GUILD_BAN_REMOVE (KeyError if not banned)."""
        self.state.unban(user_id)
        user = payloads.user_payload(self.state, user_id)
        self._hub.dispatch("GUILD_BAN_REMOVE", {"guild_id": self._gid, "user": user})
        log.info("sandbox.unban", user_id=user_id, ban_count=self.ban_count)
        await self._hub.flush()

    async def set_member_role(self, user_id: int, role_id: int, held: bool = True) -> bool:
        """Give (`held`) or take a role and dispatch GUILD_MEMBER_UPDATE; False if nothing changed.

        KeyError for an unknown member or role, ValueError for @everyone or a managed role.
        """
        changed = self.state.set_member_role(user_id, role_id, held)
        if changed:
            self._hub.dispatch("GUILD_MEMBER_UPDATE", payloads.member_update_payload(self.state, user_id))
            await self._hub.flush()
        log.info("sandbox.member_role", user_id=user_id, role_id=role_id, held=held, changed=changed)
        return changed

    async def create_role(self, name: str, permissions: int = 0) -> int:
        """Create a role nobody holds and dispatch GUILD_ROLE_CREATE; return its id."""
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            raise ValueError("a role name is 1-100 characters")
        role = self.state.create_role(name, permissions)
        self._hub.dispatch("GUILD_ROLE_CREATE", payloads.role_event_payload(self.state, role))
        log.info("sandbox.role_create", role_id=role.id, name=name)
        await self._hub.flush()
        return role.id

    async def delete_role(self, role_id: int) -> None:
        """Delete a role (its members lose it, with no member event, as on Discord): GUILD_ROLE_DELETE."""
        self.state.delete_role(role_id)
        self._hub.dispatch("GUILD_ROLE_DELETE", {"guild_id": self._gid, "role_id": str(role_id)})
        log.info("sandbox.role_delete", role_id=role_id)
        await self._hub.flush()

    def role_member_count(self, role_id: int) -> int:
        """How many members hold the role (KeyError if there is no such role)."""
        return self.state.role_member_count(role_id)

    async def set_boosts(self, count: int) -> None:
        """Set the guild's boost count (and so its premium tier) and dispatch GUILD_UPDATE."""
        if count < 0:
            raise ValueError("count must be >= 0")
        self.state.boosts = count
        self._hub.dispatch("GUILD_UPDATE", payloads.guild_payload(self.state))
        log.info("sandbox.boosts", boosts=count, premium_tier=self.state.premium_tier)
        await self._hub.flush()

    async def set_bot_permissions(self, *, allow: int = 0, deny: int = 0) -> int:
        """Set the bot role's server-wide permissions to its default plus `allow` minus `deny`; return them.

        Each call starts again from the default (View Channels, Manage Channels, Connect, Send Messages,
        Embed Links, Read Message History, Ban Members), so `set_bot_permissions()` restores it.
        @everyone's permissions still apply: denying one @everyone grants (View Channels) changes nothing.
        Dispatches GUILD_ROLE_UPDATE, from which discord.py recomputes the bot's permissions.
        """
        permissions = (BOT_ROLE_PERMISSIONS | allow) & ~deny
        self.state.set_bot_role_permissions(permissions)
        role = self.state.roles[self.state.bot_role_id]
        self._hub.dispatch("GUILD_ROLE_UPDATE", payloads.role_event_payload(self.state, role))
        log.info("sandbox.bot_permissions", permissions=permissions, allow=allow, deny=deny)
        await self._hub.flush()
        return permissions

    def set_online(self, count: int) -> None:
        """Set approximate_presence_count (clamped to 0..member_count)."""
        self.state.online = max(0, min(int(count), self.member_count))
        log.info("sandbox.online", online=self.state.online)

    async def drop_gateway(self, resumable: bool = True, *, reconnect_op: bool = False) -> None:
        """Drop gateway connections: close 4000 (or op 7) so clients RESUME; op 9 d=false if not resumable."""
        self._hub.drop(resumable=resumable, reconnect_op=reconnect_op)
        await self._hub.flush()

    async def replay_dispatches(self, count: int, events: Iterable[str] | None = None) -> int:
        """Re-send connected sessions their last `count` dispatches (of `events`); return how many went.

        The same payloads with fresh sequence numbers, as a RESUME after a reconnect during a burst can.
        """
        if isinstance(events, str):
            raise TypeError("events must be a list of event names, not one string")
        names = None if events is None else frozenset(events)
        sent = self._hub.replay(count, names)
        log.info("sandbox.replay", count=count, events=None if names is None else sorted(names), sent=sent)
        await self._hub.flush()
        return sent

    def inject_fault(
        self,
        pattern: str,
        *,
        status: int = 500,
        count: int | None = None,
        duration: float | None = None,
        global_429: bool = False,
        retry_after: float = 1.0,
    ) -> None:
        """Answer REST requests whose "METHOD /path" matches `pattern` with `status` (for count/duration)."""
        self._faults.add_fault(
            pattern,
            status=status,
            count=count,
            duration=duration,
            global_429=global_429,
            retry_after=retry_after,
        )
        log.info("sandbox.fault_injected", pattern=pattern, status=status, count=count, duration=duration)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    def delay_responses(
        self, pattern: str, seconds: float, *, count: int | None = None, duration: float | None = None
    ) -> None:
        """Hold back the answers to REST requests whose "METHOD /path" matches `pattern` by `seconds`.

        The request takes effect at once (a message is stored and dispatched); only its response waits.
        Applies to `count` requests or for `duration` seconds, or until cleared.
        """
        self._delays.add_delay(pattern, seconds, count=count, duration=duration)
        log.info("sandbox.delay_injected", pattern=pattern, seconds=seconds, count=count, duration=duration)

    def clear_delays(self) -> None:
        """Remove every injected delay."""
        self._delays.clear()

    def set_channel_permissions(
        self, channel_id: int, *, manage_channels: bool = True, view: bool = True, send_messages: bool = True
    ) -> None:
        """Deny permissions to the bot's role on a channel via an overwrite, and dispatch CHANNEL_UPDATE."""
        channel = self.state.channel(channel_id)
        deny = (
            (0 if manage_channels else MANAGE_CHANNELS)
            | (0 if view else VIEW_CHANNEL)
            | (0 if send_messages else SEND_MESSAGES)
        )
        self.state.set_bot_denies(channel, deny)
        self._hub.dispatch("CHANNEL_UPDATE", payloads.channel_payload(self.state, channel))
        log.info("sandbox.permissions", channel_id=channel_id, deny=deny)

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel (REST then answers 404 10003) and dispatch CHANNEL_DELETE.

        A deleted category's channels stay, without a parent: one CHANNEL_UPDATE each, as on Discord.
        """
        channel = self.state.delete_channel(channel_id)
        self._hub.dispatch("CHANNEL_DELETE", payloads.channel_payload(self.state, channel))
        for child in self.state.orphan_children(channel_id):
            self._hub.dispatch("CHANNEL_UPDATE", payloads.channel_payload(self.state, child))
        log.info("sandbox.channel_delete", channel_id=channel_id)

    def create_interaction(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        member_permissions: int | None = None,
        channel: str | int = "general",
    ) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE for a registered command ("stats day" for a subcommand); don't wait.

        The member defaults to the guild owner (every permission). ValueError for a command, subcommand or
        option Discord would not offer; PermissionError when `default_member_permissions` hides it.
        """
        channel_id = self.state.channel_ids[channel] if isinstance(channel, str) else channel
        record = self._interactions.create(
            name,
            options or {},
            user_id=user_id,
            member_permissions=member_permissions,
            channel=self.state.channel(channel_id),
        )
        self._hub.dispatch("INTERACTION_CREATE", record.payload)
        log.info("sandbox.interaction", command=name, interaction_id=record.id, channel_id=channel_id)
        return record

    async def invoke_command(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        user_id: int | None = None,
        member_permissions: int | None = None,
        channel: str | int = "general",
        timeout: float = 10.0,
    ) -> InteractionResult:
        """Use a command as a member would and return what they were shown (`failed` after 3 s unanswered)."""
        record = self.create_interaction(
            name, options, user_id=user_id, member_permissions=member_permissions, channel=channel
        )
        await self._hub.flush()
        return await self._interactions.wait(record, timeout)

    def interaction(self, interaction_id: int) -> InteractionResult:
        """What the member who started `interaction_id` sees now (KeyError if unknown)."""
        record = self._interactions.by_id(interaction_id)
        if record is None:
            raise KeyError(interaction_id)
        return record.result(self.state.attachments)

    async def flush(self) -> None:
        """Wait until queued gateway frames are written (after sync control calls)."""
        await self._hub.flush()

    # --- observation ----------------------------------------------------------------------------------

    def channel_name(self, channel_id: int) -> str:
        """The channel's current name (KeyError if deleted or unknown)."""
        return self.state.channel(channel_id).name

    def messages(self, channel_id: int) -> list[dict[str, Any]]:
        """The channel's current messages, oldest first, after edits and deletes."""
        return [dict(m) for m in self.state.channel(channel_id).messages.values()]

    def attachment_bytes(self, channel_id: int, message_id: int, filename: str) -> bytes:
        """The bytes of the file `filename` attached to a message, as its URL serves them.

        KeyError when the channel, the message or such an attachment is unknown (or its bytes were dropped).
        """
        message = self.state.channel(channel_id).messages[message_id]
        for attachment in message.get("attachments") or []:
            if attachment["filename"] == filename:
                stored = self.state.attachments.get(int(attachment["id"]))
                if stored is not None:
                    return stored.data
        raise KeyError(f"message {message_id} has no attachment {filename!r}")

    @property
    def presence(self) -> dict[str, Any] | None:
        """The last presence the bot sent (status, activities, since, afk), or None."""
        return self._hub.presence

    @property
    def member_count(self) -> int:
        """Exact member count, the bot included."""
        return self.state.member_count

    @property
    def bot_member_count(self) -> int:
        """Exact number of members that are bots, the StatsBot included."""
        return self.state.bot_member_count

    @property
    def ban_count(self) -> int:
        """Exact number of bans."""
        return len(self.state.bans)

    @property
    def online_count(self) -> int:
        """What approximate_presence_count reports."""
        return self.state.online

    @property
    def gateway_connections(self) -> int:
        """How many identified gateway connections are open (e.g. to wait until a bot has connected)."""
        return len(self._hub.connected_sessions)

    @property
    def member_streams(self) -> int:
        """How many all-members op 8 answers are still streaming (e.g. to wait until one has finished)."""
        return self._hub.member_streams

    @property
    def invalid_requests(self) -> int:
        """401/403/429 answers in the current 10-minute window (Cloudflare bans at 10,000)."""
        return self._rest.invalid_requests

    @property
    def _gid(self) -> str:
        """The guild id as Discord's JSON writes it."""
        return str(self.state.guild_id)
