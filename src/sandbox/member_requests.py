"""op 8 REQUEST_GUILD_MEMBERS: answer with GUILD_MEMBERS_CHUNK dispatches; all members are streamed."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable
from itertools import islice
from typing import Any

import structlog

from src.sandbox import payloads
from src.sandbox.config import SandboxConfig
from src.sandbox.gateway_session import GUILD_MEMBERS, OP_REQUEST_MEMBERS, DeferredPayload, Session
from src.sandbox.idsets import SparseIdSet
from src.sandbox.ratelimit import SlidingWindowLimiter
from src.sandbox.state import GuildState
from src.types.ports import Clock

log = structlog.get_logger(__name__)

ALL_MEMBERS_WINDOW = 30.0  # one "request all members" per guild per 30 s
CHUNK_SIZE = 1000
QUERY_SCAN_LIMIT = 100_000  # how many members a username query looks at, so a huge guild stays responsive
USER_IDS_MAX = 100

Emit = Callable[[Session, str, dict[str, Any] | DeferredPayload], None]


class MembersChunk(DeferredPayload):
    """One GUILD_MEMBERS_CHUNK of an all-members answer, built from the member snapshot when written.

    Until its first build it holds its member ids; after that only the first id and the count, so the
    chunks a session keeps for RESUME cost a few integers each and are rebuilt from the snapshot if replayed.
    """

    def __init__(
        self,
        state: GuildState,
        snapshot: SparseIdSet[Any],
        member_ids: list[int],
        header: dict[str, Any],
    ) -> None:
        self._state = state
        self._snapshot = snapshot
        self._ids: list[int] | None = member_ids
        self._first = member_ids[0] if member_ids else 0
        self._count = len(member_ids)
        self._header = header

    def _member_ids(self) -> list[int]:
        """The chunk's members: the ids held until the first build, then re-read from the snapshot."""
        member_ids = self._ids
        if member_ids is None:
            member_ids = list(islice(self._snapshot.ascending(after=self._first - 1), self._count))
        self._ids = None
        return member_ids

    def build(self) -> dict[str, Any]:
        """The chunk's data: `guild_id`, `members`, `chunk_index`, `chunk_count`, and `nonce` if asked."""
        return {
            **self._header,
            "members": [payloads.member_payload(self._state, u) for u in self._member_ids()],
        }

    def build_json(self) -> str:
        """The same data as JSON, each member formatted directly (what the socket writer asks for)."""
        header = json.dumps(self._header, separators=(",", ":"), ensure_ascii=False)
        members = ",".join(payloads.member_json(self._state, u) for u in self._member_ids())
        return f'{header[:-1]},"members":[{members}]}}'


class MemberRequests:
    """Answers member requests: by user ids, by username prefix, or all members (1 per 30 s)."""

    def __init__(self, state: GuildState, config: SandboxConfig, clock: Clock, *, emit: Emit) -> None:
        self._state = state
        self._config = config
        self._emit = emit
        self._all_members_limit = SlidingWindowLimiter(
            clock, limit=1, window=ALL_MEMBERS_WINDOW, time_scale=config.time_scale
        )
        self._streams: set[asyncio.Task[None]] = set()

    def handle(self, session: Session, data: dict[str, Any]) -> None:
        """Answer one op 8 payload for `session` (requests for other guilds are ignored, like Discord)."""
        log.debug("sandbox.gateway.request_members", request=data)
        if str(data.get("guild_id")) != str(self._state.guild_id) or not session.receives_guild:
            return
        nonce = data.get("nonce")
        user_ids = data.get("user_ids")
        query = data.get("query")
        limit = data.get("limit") if isinstance(data.get("limit"), int) else 0
        presences = bool(data.get("presences"))
        not_found: list[int] = []
        if user_ids is not None:
            wanted = [int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])]
            found = [u for u in wanted[:USER_IDS_MAX] if u in self._state.members]
            not_found = [u for u in wanted[:USER_IDS_MAX] if u not in self._state.members]
        elif query == "" and limit == 0:
            self._all_members(session, nonce, presences=presences)
            return
        else:
            found = self._query_members(str(query or ""), min(100, limit or 100))
        self._send_chunks(session, found, nonce, not_found, presences=presences)

    async def close(self) -> None:
        """Stop every member stream still running (the sandbox is stopping)."""
        for task in list(self._streams):
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)

    @property
    def streaming(self) -> int:
        """How many all-members answers are still being sent."""
        return len(self._streams)

    def _header(
        self, index: int, count: int, nonce: Any, *, presences: bool, not_found: list[int] | None = None
    ) -> dict[str, Any]:
        """The fields of a chunk besides `members`."""
        chunk: dict[str, Any] = {
            "guild_id": str(self._state.guild_id),
            "chunk_index": index,
            "chunk_count": count,
        }
        if nonce is not None:
            chunk["nonce"] = nonce
        if not_found:
            chunk["not_found"] = [str(u) for u in not_found]
        if presences:
            chunk["presences"] = []
        return chunk

    def _send_chunks(
        self, session: Session, found: list[int], nonce: Any, not_found: list[int], *, presences: bool
    ) -> None:
        """Emit GUILD_MEMBERS_CHUNK dispatches of up to 1000 members each, at once (answers are small)."""
        chunks = max(1, math.ceil(len(found) / CHUNK_SIZE))
        for index in range(chunks):
            part = found[index * CHUNK_SIZE : (index + 1) * CHUNK_SIZE]
            chunk = self._header(
                index, chunks, nonce, presences=presences, not_found=not_found if index == 0 else None
            )
            chunk["members"] = [payloads.member_payload(self._state, uid) for uid in part]
            self._emit(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _all_members(self, session: Session, nonce: Any, *, presences: bool) -> None:
        """Start streaming every member; a RATE_LIMITED dispatch instead when asked again within 30 s."""
        if not session.intents & GUILD_MEMBERS:
            self._send_chunks(
                session, [], nonce, [], presences=presences
            )  # the list needs the members intent
            return
        wait = self._all_members_limit.acquire(self._state.guild_id)  # per guild, whatever the session
        if wait > 0:
            meta = {"guild_id": str(self._state.guild_id), "nonce": nonce}
            event = {"opcode": OP_REQUEST_MEMBERS, "retry_after": wait, "meta": meta}
            self._emit(session, "RATE_LIMITED", event)
            return
        # The answer lists the members as they are now, even if some join or leave while it streams.
        snapshot = self._state.members.snapshot()
        cap = self._config.chunk_member_cap
        total = len(snapshot) if cap is None else min(cap, len(snapshot))
        task = asyncio.get_running_loop().create_task(
            self._stream(session, snapshot, total, nonce, presences=presences),
            name=f"sandbox-member-stream-{session.id[:8]}",
        )
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    async def _stream(
        self, session: Session, snapshot: SparseIdSet[Any], total: int, nonce: Any, *, presences: bool
    ) -> None:
        """Emit the chunks in ascending id, each only once the previous one is written.

        Waiting for the socket between chunks keeps at most one built chunk in memory and lets heartbeat
        ACKs, other dispatches and REST answers through while a million members stream.
        """
        started = time.perf_counter()
        chunk_count = max(1, math.ceil(total / CHUNK_SIZE))
        member_ids = islice(snapshot.ascending(), total)
        for index in range(chunk_count):
            if session.invalid:
                log.info("sandbox.gateway.member_stream_abandoned", session=session.id, chunk_index=index)
                return
            header = self._header(index, chunk_count, nonce, presences=presences)
            chunk = MembersChunk(self._state, snapshot, list(islice(member_ids, CHUNK_SIZE)), header)
            self._emit(session, "GUILD_MEMBERS_CHUNK", chunk)
            connection = session.connection
            if connection is not None and connection.open:
                await connection.drained()
            else:
                await asyncio.sleep(0)  # kept for RESUME; nothing to wait for
        log.info(
            "sandbox.gateway.member_stream_done",
            session=session.id,
            members=total,
            chunks=chunk_count,
            seconds=round(time.perf_counter() - started, 3),
        )

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
