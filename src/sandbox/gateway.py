"""The gateway protocol: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeats, RESUME replay, intents."""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import secrets
from collections import deque
from collections.abc import Collection
from typing import Any

import structlog
from aiohttp import WSMsgType, web

from src.sandbox import payloads
from src.sandbox.config import Endpoints, SandboxConfig
from src.sandbox.gateway_io import CLOSE_TIMEOUT, Connection
from src.sandbox.gateway_session import (
    ALL_INTENTS,
    EVENT_INTENTS,
    GUILD_PRESENCES,
    OP_HEARTBEAT,
    OP_HEARTBEAT_ACK,
    OP_HELLO,
    OP_IDENTIFY,
    OP_INVALID_SESSION,
    OP_PRESENCE,
    OP_RECONNECT,
    OP_REQUEST_MEMBERS,
    OP_RESUME,
    OP_VOICE_STATE,
    PRIVILEGED_INTENTS,
    DeferredPayload,
    Session,
    dispatch_frame,
    frame,
)
from src.sandbox.journal import Journal
from src.sandbox.member_requests import MemberRequests
from src.sandbox.ratelimit import BucketRegistry, BucketSpec, SlidingWindowLimiter
from src.sandbox.state import GuildState
from src.types.ports import Clock

log = structlog.get_logger(__name__)

SEND_LIMIT = BucketSpec("gateway-send", 120, 60.0)  # client frames per connection
PRESENCE_LIMIT, PRESENCE_WINDOW = 5, 20.0
MAX_IDLE_SESSIONS = 16


class GatewayHub:
    """Serves `/gateway` websockets and fans dispatches out to sessions according to their intents."""

    def __init__(
        self,
        config: SandboxConfig,
        state: GuildState,
        journal: Journal,
        clock: Clock,
        endpoints: Endpoints,
    ) -> None:
        self._config = config
        self._state = state
        self._journal = journal
        self._clock = clock
        self._endpoints = endpoints
        self._sessions: dict[str, Session] = {}
        self._connections: dict[int, Connection] = {}
        self._conn_ids = itertools.count(1)
        self._attach_counter = itertools.count(1)
        self._send_limits = BucketRegistry(clock, config.time_scale)
        self._presence_limit = SlidingWindowLimiter(
            clock, limit=PRESENCE_LIMIT, window=PRESENCE_WINDOW, time_scale=config.time_scale
        )
        self._member_requests = MemberRequests(state, config, clock, emit=self._emit)
        self.presence: dict[str, Any] | None = None

    # --- public surface -------------------------------------------------------------------------------

    @property
    def connected_sessions(self) -> list[Session]:
        """Sessions with an open connection."""
        return [s for s in self._sessions.values() if s.connection is not None and s.connection.open]

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch to every live session whose intents cover it (buffered for disconnected ones)."""
        needed = EVENT_INTENTS.get(event, 0)
        snapshot: dict[str, Any] | None = None
        for session in list(self._sessions.values()):
            if session.invalid or not session.receives_guild:
                continue
            if needed and not session.intents & needed:
                continue
            if snapshot is None:
                # Frozen now: the frame is written later, and RESUME or a replay must send it as it was
                # even if the object it describes (a message) is edited in between.
                snapshot = copy.deepcopy(data)
            session.history.append((event, snapshot))
            self._emit(session, event, snapshot)

    def replay(self, count: int, events: Collection[str] | None = None) -> int:
        """Send each connected session its last `count` dispatches (only `events`, if given) once more.

        As a RESUME after a reconnect during a burst can: the same payloads, with fresh sequence numbers.
        What is replayed stays out of the history, so replaying twice sends the same dispatches twice.
        Returns how many dispatches were sent in all.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        sent = 0
        for session in self.connected_sessions:
            if session.invalid:
                continue
            chosen = [(e, d) for e, d in session.history if events is None or e in events][-count:]
            for event, data in chosen:
                self._emit(session, event, data)
            sent += len(chosen)
            log.debug("sandbox.gateway.replay", session=session.id, events=[e for e, _ in chosen])
        return sent

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every connection has written what is queued."""
        connections = list(self._connections.values())
        if not connections:
            return
        try:
            await asyncio.wait_for(asyncio.gather(*(c.drained() for c in connections)), timeout)
        except TimeoutError:
            log.warning("sandbox.gateway.flush_timeout", timeout=timeout)

    def drop(self, *, resumable: bool = True, reconnect_op: bool = False) -> int:
        """Drop every identified connection; return how many were dropped.

        Resumable: close with 4000 (or send op 7 RECONNECT) so the client RESUMEs. Not resumable: send op 9
        INVALID_SESSION d=false and forget the session, so the client must IDENTIFY again.
        """
        dropped = 0
        for conn in list(self._connections.values()):
            if conn.session is None or not conn.open:
                continue
            dropped += 1
            if not resumable:
                conn.session.invalid = True
                conn.send(frame(OP_INVALID_SESSION, False))
            elif reconnect_op:
                conn.send(frame(OP_RECONNECT, None))
            else:
                conn.close(4000, "Unknown error.")
        log.info("sandbox.gateway.drop", resumable=resumable, connections=dropped)
        return dropped

    @property
    def member_streams(self) -> int:
        """How many all-members answers (op 8) are still streaming."""
        return self._member_requests.streaming

    async def close_all(self) -> None:
        """Stop member streams, close every connection (1001) and wait for their handlers to finish."""
        await self._member_requests.close()
        connections = list(self._connections.values())
        for conn in connections:
            conn.close(1001, "Sandbox stopping.")
        for conn in connections:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT + 2.0):
                    await conn.done.wait()
            except TimeoutError:
                await conn.finish()

    # --- websocket handler ----------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Serve one gateway connection until either side closes it."""
        ws = web.WebSocketResponse(timeout=CLOSE_TIMEOUT, autoping=True)
        await ws.prepare(request)
        compress = self._config.compress and request.query.get("compress") == "zlib-stream"
        conn = Connection(next(self._conn_ids), ws, compress=compress, on_sent=self._record_sent)
        self._connections[conn.id] = conn
        conn.start()
        log.debug("sandbox.gateway.connect", conn=conn.id, compress=compress, query=dict(request.query))
        try:
            if request.query.get("encoding", "json") != "json":
                conn.close(4002, "Error while decoding payload.")
            elif request.query.get("v", "10") not in ("9", "10"):
                conn.close(4012, "Invalid API version.")
            else:
                conn.send(frame(OP_HELLO, {"heartbeat_interval": self._config.heartbeat_interval_ms}))
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._on_text(conn, message.data)
                elif message.type is WSMsgType.BINARY:
                    conn.close(4002, "Error while decoding payload.")
        finally:
            await conn.finish()
            self._detach(conn)
        return ws

    def _record_sent(self, op: int, event: str | None) -> None:
        """Journal a frame the sandbox wrote."""
        self._journal.record_gateway(self._clock.monotonic(), "send", op, event)

    def _on_text(self, conn: Connection, text: str) -> None:
        """Handle one client frame."""
        if not conn.open:
            return
        try:
            payload = json.loads(text)
            op = payload["op"]
        except (ValueError, KeyError, TypeError):
            conn.close(4002, "Error while decoding payload.")
            return
        if not isinstance(op, int):
            conn.close(4002, "Error while decoding payload.")
            return
        self._journal.record_gateway(self._clock.monotonic(), "recv", op, None)
        if not self._send_limits.take(SEND_LIMIT, str(conn.id)).allowed:
            conn.close(4008, "Rate limited.")
            return
        data = payload.get("d")
        if op == OP_HEARTBEAT:
            conn.acknowledge_heartbeat(frame(OP_HEARTBEAT_ACK, None), self._config.heartbeat_ack_delay)
        elif op == OP_IDENTIFY:
            self._identify(conn, data)
        elif op == OP_RESUME:
            self._resume(conn, data)
        elif op in (OP_PRESENCE, OP_VOICE_STATE, OP_REQUEST_MEMBERS):
            if conn.session is None:
                conn.close(4003, "Not authenticated.")
            elif op == OP_PRESENCE:
                self._presence(conn, data)
            elif not isinstance(data, dict):
                conn.close(4002, "Error while decoding payload.")
            else:
                self._journal.member_requests.append(dict(data))
                self._member_requests.handle(conn.session, data)
        else:
            conn.close(4001, "Unknown opcode.")

    # --- IDENTIFY / RESUME ----------------------------------------------------------------------------

    def _token_ok(self, token: Any) -> bool:
        """Accept the configured token, with or without the "Bot " prefix."""
        return isinstance(token, str) and token.removeprefix("Bot ") == self._config.token

    def _authenticates(self, conn: Connection, data: Any) -> bool:
        """The checks IDENTIFY and RESUME share; on failure the connection is closed as Discord would."""
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return False
        if not isinstance(data, dict):
            conn.close(4002, "Error while decoding payload.")
            return False
        if not self._token_ok(data.get("token")):
            conn.close(4004, "Authentication failed.")
            return False
        return True

    def _identify(self, conn: Connection, data: Any) -> None:
        """Validate IDENTIFY, create a session and send READY then GUILD_CREATE."""
        if not self._authenticates(conn, data):
            return
        intents = data.get("intents")
        if not isinstance(intents, int) or not 0 <= intents <= ALL_INTENTS:
            conn.close(4013, "Invalid intent(s).")
            return
        if intents & PRIVILEGED_INTENTS and not self._config.privileged_intents_enabled:
            conn.close(4014, "Disallowed intent(s).")
            return
        shard = data.get("shard")
        if shard is not None and not _valid_shard(shard):
            conn.close(4010, "Invalid shard.")
            return
        receives_guild = shard is None or (self._state.guild_id >> 22) % shard[1] == shard[0]
        threshold = data.get("large_threshold", 50)
        session = Session(
            id=secrets.token_hex(16),
            intents=intents,
            shard=shard,
            large_threshold=min(250, max(50, threshold if isinstance(threshold, int) else 50)),
            receives_guild=receives_guild,
            buffer=deque(maxlen=max(1, self._config.resume_buffer)),
            history=deque(maxlen=max(1, self._config.resume_buffer)),
        )
        self._sessions[session.id] = session
        self._attach(conn, session)
        presence = data.get("presence")
        if isinstance(presence, dict):
            game = presence.get("game")
            activities = presence.get("activities") or ([game] if game else [])
            self._set_presence({**presence, "activities": activities})
        log.info("sandbox.gateway.identify", session=session.id, intents=intents, shard=shard)
        self._emit(session, "READY", self._ready_payload(session))
        if receives_guild:
            all_members = (
                bool(intents & GUILD_PRESENCES) and self._state.member_count <= session.large_threshold
            )
            guild = payloads.guild_create_payload(
                self._state, all_members=all_members, large_threshold=session.large_threshold
            )
            self._emit(session, "GUILD_CREATE", guild)

    def _ready_payload(self, session: Session) -> dict[str, Any]:
        """The READY dispatch for a new session."""
        ready: dict[str, Any] = {
            "v": 10,
            "user": payloads.bot_user_payload(self._state),
            "guilds": [{"id": str(self._state.guild_id), "unavailable": True}]
            if session.receives_guild
            else [],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self._endpoints.gateway_url,
            "application": {
                "id": str(self._state.application_id),
                "flags": payloads.PRIVILEGED_APP_FLAGS if self._config.privileged_intents_enabled else 0,
            },
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["sandbox"],
            "user_settings": {},
            "_trace": ['["sandbox-gateway",{"micros":0}]'],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        return ready

    def _resume(self, conn: Connection, data: Any) -> None:
        """Re-attach a session and replay what it missed, then RESUMED; op 9 d=false if impossible."""
        if not self._authenticates(conn, data):
            return
        session = self._sessions.get(str(data.get("session_id")))
        seq = data.get("seq") or 0
        if session is None or session.invalid or not isinstance(seq, int) or not session.can_replay_from(seq):
            log.info("sandbox.gateway.resume_refused", session=data.get("session_id"), seq=seq)
            conn.send(frame(OP_INVALID_SESSION, False))
            return
        self._attach(conn, session)
        missed = [(s, event, d) for s, event, d in session.buffer if s > seq]
        for s, event, d in missed:
            conn.send(dispatch_frame(s, event, d))
        log.info("sandbox.gateway.resume", session=session.id, seq=seq, replayed=len(missed))
        self._emit(session, "RESUMED", {})

    def _attach(self, conn: Connection, session: Session) -> None:
        """Bind a connection to a session, closing any other connection still holding it."""
        previous = session.connection
        if previous is not None and previous is not conn:
            previous.close(4000, "Session resumed elsewhere.")
        conn.session = session
        session.connection = conn
        session.last_attached = next(self._attach_counter)

    def _detach(self, conn: Connection) -> None:
        """Forget a finished connection; its session stays resumable unless invalidated."""
        self._connections.pop(conn.id, None)
        session = conn.session
        if session is not None and session.connection is conn:
            session.connection = None
        idle = sorted(
            (s for s in self._sessions.values() if s.connection is None), key=lambda s: s.last_attached
        )
        for stale in idle[: max(0, len(idle) - MAX_IDLE_SESSIONS)]:
            del self._sessions[stale.id]
        for dead in [s for s in self._sessions.values() if s.invalid and s.connection is None]:
            del self._sessions[dead.id]

    def _emit(self, session: Session, event: str, data: dict[str, Any] | DeferredPayload) -> None:
        """Number a dispatch for `session`, buffer it and send it if connected."""
        session.seq += 1
        session.buffer.append((session.seq, event, data))
        if session.connection is not None:
            session.connection.send(dispatch_frame(session.seq, event, data))

    # --- presence and member requests -----------------------------------------------------------------

    def _presence(self, conn: Connection, data: Any) -> None:
        """Record an op 3 presence update from the bot."""
        if not isinstance(data, dict):
            conn.close(4002, "Error while decoding payload.")
            return
        if self._presence_limit.acquire(conn.id) > 0:
            self._journal.presence_limit_exceeded += 1
            log.warning("sandbox.presence.rate_exceeded", limit=f"{PRESENCE_LIMIT}/{PRESENCE_WINDOW}s")
        self._set_presence(data)

    def _set_presence(self, data: dict[str, Any]) -> None:
        """Remember the bot's presence."""
        record = {
            "status": data.get("status"),
            "activities": data.get("activities") or [],
            "since": data.get("since"),
            "afk": data.get("afk", False),
        }
        self.presence = record
        self._journal.presences.append(record)
        log.info("sandbox.presence", status=record["status"], activities=record["activities"])


def _valid_shard(shard: Any) -> bool:
    """A shard is [id, count] with 0 <= id < count."""
    return (
        isinstance(shard, list)
        and len(shard) == 2
        and all(isinstance(x, int) for x in shard)
        and shard[1] >= 1
        and 0 <= shard[0] < shard[1]
    )
