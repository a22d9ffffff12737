"""op 8 REQUEST_GUILD_MEMBERS: answer with GUILD_MEMBERS_CHUNK dispatches, capped for huge guilds."""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import islice
from typing import Any

import structlog

from src.sandbox import payloads
from src.sandbox.config import SandboxConfig
from src.sandbox.gateway_session import GUILD_MEMBERS, OP_REQUEST_MEMBERS, Session
from src.sandbox.ratelimit import SlidingWindowLimiter
from src.sandbox.state import GuildState
from src.types.ports import Clock

log = structlog.get_logger(__name__)

ALL_MEMBERS_WINDOW = 30.0  # one "request all members" per guild per 30 s
CHUNK_SIZE = 1000
QUERY_SCAN_LIMIT = 100_000  # how many members a username query looks at, so a huge guild stays responsive
USER_IDS_MAX = 100

Emit = Callable[[Session, str, dict[str, Any]], None]


class MemberRequests:
    """Answers member requests: by user ids, by username prefix, or all members (1 per 30 s)."""

    def __init__(self, state: GuildState, config: SandboxConfig, clock: Clock, *, emit: Emit) -> None:
        self._state = state
        self._config = config
        self._emit = emit
        self._all_members_limit = SlidingWindowLimiter(
            clock, limit=1, window=ALL_MEMBERS_WINDOW, time_scale=config.time_scale
        )

    def handle(self, session: Session, data: dict[str, Any]) -> None:
        """Answer one op 8 payload for `session` (requests for other guilds are ignored, like Discord)."""
        log.debug("sandbox.gateway.request_members", request=data)
        if str(data.get("guild_id")) != str(self._state.guild_id) or not session.receives_guild:
            return
        nonce = data.get("nonce")
        user_ids = data.get("user_ids")
        query = data.get("query")
        limit = data.get("limit") if isinstance(data.get("limit"), int) else 0
        not_found: list[int] = []
        found: list[int] | None
        if user_ids is not None:
            wanted = [int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
            found = [u for u in wanted[:USER_IDS_MAX] if u in self._state.members]
            not_found = [u for u in wanted[:USER_IDS_MAX] if u not in self._state.members]
        elif query == "" and limit == 0:
            found = self._all_members(session, nonce)
            if found is None:
                return
        else:
            found = self._query_members(str(query or ""), min(100, limit or 100))
        self._send_chunks(session, found, nonce, not_found, presences=bool(data.get("presences")))

    def _send_chunks(
        self, session: Session, found: list[int], nonce: Any, not_found: list[int], *, presences: bool
    ) -> None:
        """Emit GUILD_MEMBERS_CHUNK dispatches of up to 1000 members each."""
        chunks = max(1, math.ceil(len(found) / CHUNK_SIZE))
        for index in range(chunks):
            part = found[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
            chunk: dict[str, Any] = {
                "guild_id": str(self._state.guild_id),
                "members": [payloads.member_payload(self._state, uid) for uid in part],
                "chunk_index": index,
                "chunk_count": chunks,
            }
            if nonce is not None:
                chunk["nonce"] = nonce
            if not_found and index == 0:
                chunk["not_found"] = [str(u) for u in not_found]
            if presences:
                chunk["presences"] = []
            self._emit(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _all_members(self, session: Session, nonce: Any) -> list[int] | None:
        """Every member up to the cap; None (after a RATE_LIMITED dispatch) when asked again within 30 s."""
        if not session.intents & GUILD_MEMBERS:
            return []  # the whole member list needs the members intent
        wait = self._all_members_limit.acquire(session.id)
        if wait > 0:
            meta = {"guild_id": str(self._state.guild_id), "nonce": nonce}
            event = {"opcode": OP_REQUEST_MEMBERS, "retry_after": wait, "meta": meta}
            self._emit(session, "RATE_LIMITED", event)
            return None
        return list(islice(self._state.members.ascending(), self._config.chunk_member_cap))

    def _query_members(self, query: str, limit: int) -> list[int]:
        """Members whose username starts with `query` (case-insensitive), scanning a bounded prefix."""
        prefix = query.lower()
        found = []
        for uid in islice(self._state.members.ascending(), QUERY_SCAN_LIMIT):
            if self._state.user(uid).username.lower().startswith(prefix):
                found.append(uid)
                if len(found) >= limit:
                    break
        return found
