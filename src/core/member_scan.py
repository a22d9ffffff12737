"""One pass over a guild's member list by gateway chunking, without discord.py's member objects or cache.

Discord answers one op 8 REQUEST_GUILD_MEMBERS (query "", limit 0) with GUILD_MEMBERS_CHUNK dispatches of up
to 1,000 members each, as fast as it can send them: for a big guild far faster than REST paging at 1,000
per request within its route limit. discord.py would build a `Member` for every entry of every chunk; the
chunks of StatsBot's own requests (recognised by their nonce) are taken before that, and only the bot flag
and role ids of each member are kept, so a million members never exist in memory at once.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from src.core.exceptions import TransientDiscordError
from src.types.ports import MemberInfo

NONCE_PREFIX = "sbscan-"  # Discord allows nonces of up to 32 characters
CHUNK_TIMEOUT = 30.0  # seconds without a chunk before a pass is given up (the gateway dropped)
RETRY_DEFAULT = 30.0  # Discord allows one all-members request per guild per 30 s
MAX_RETRY_AFTER = 60.0  # a longer rate limit fails the pass; the caller's backoff tries again later

OnChunk = Callable[[Sequence[MemberInfo]], None]


def member_info(payload: Any) -> MemberInfo | None:
    """Return the counters' view of one member payload, or None when it is malformed."""
    try:
        user = payload["user"]
        return MemberInfo(
            int(user["id"]), bool(user.get("bot", False)), frozenset(map(int, payload.get("roles") or ()))
        )
    except (KeyError, TypeError, ValueError):
        return None


def member_infos(payloads: Iterable[Any]) -> list[MemberInfo]:
    """Return the well-formed members of a chunk (a malformed entry is skipped, not fatal)."""
    return [info for info in map(member_info, payloads) if info is not None]


class _Pass:
    """One pass in progress: which chunks have arrived, and a signal on each."""

    def __init__(self, on_chunk: OnChunk) -> None:
        self.on_chunk = on_chunk
        self.received: set[int] = set()
        self.expected: int | None = None
        self.members = 0
        self.progress = asyncio.Event()
        self.retry_after: float | None = None  # Discord answered RATE_LIMITED: ask again after this

    def take(self, data: dict[str, Any]) -> None:
        index, count, payloads = data.get("chunk_index"), data.get("chunk_count"), data.get("members")
        if not isinstance(index, int) or not isinstance(count, int) or not 0 <= index < count:
            return  # malformed: an index outside the count would end the pass before every chunk came
        if index in self.received:
            return  # a replayed chunk must not be counted twice
        members = member_infos(payloads if isinstance(payloads, list) else ())
        self.on_chunk(members)
        self.members += len(members)
        self.received.add(index)
        self.expected = count
        self.progress.set()

    @property
    def done(self) -> bool:
        return self.expected is not None and len(self.received) >= self.expected


class MemberChunks:
    """Routes the chunks of StatsBot's own member requests to the pass that asked for them."""

    def __init__(self) -> None:
        self._passes: dict[str, _Pass] = {}

    def rate_limited(self, data: Any) -> bool:
        """Note a RATE_LIMITED answer to one of our requests (1 all-members request per 30 s per guild)."""
        meta = data.get("meta") if isinstance(data, dict) else None
        nonce = meta.get("nonce") if isinstance(meta, dict) else None
        running = self._passes.get(nonce) if isinstance(nonce, str) else None
        if running is None:
            return False
        retry_after = data.get("retry_after")
        running.retry_after = float(retry_after) if isinstance(retry_after, int | float) else RETRY_DEFAULT
        running.progress.set()
        return True

    def take(self, data: Any) -> bool:
        """Consume a GUILD_MEMBERS_CHUNK of one of our passes; False leaves it to discord.py."""
        nonce = data.get("nonce") if isinstance(data, dict) else None
        if not isinstance(nonce, str) or not nonce.startswith(NONCE_PREFIX):
            return False
        running = self._passes.get(nonce)
        if running is not None:
            running.take(data)
        return True  # a late chunk of an abandoned pass is dropped too: nobody else asked for it

    async def scan(
        self,
        request: Callable[[str], Awaitable[None]],
        on_chunk: OnChunk,
        *,
        chunk_timeout: float = CHUNK_TIMEOUT,
    ) -> int:
        """Send one request through `request(nonce)` and feed every chunk to `on_chunk`; return the count."""
        nonce = NONCE_PREFIX + secrets.token_hex(8)
        running = self._passes[nonce] = _Pass(on_chunk)
        try:
            await request(nonce)
            while not running.done:
                running.progress.clear()
                try:
                    await asyncio.wait_for(running.progress.wait(), chunk_timeout)
                except TimeoutError:
                    raise TransientDiscordError(
                        f"member list stopped after {len(running.received)} of "
                        f"{running.expected or '?'} chunks ({chunk_timeout:g} s without one)"
                    ) from None
                if running.retry_after is not None and not running.received:
                    wait, running.retry_after = running.retry_after, None
                    if wait > MAX_RETRY_AFTER:
                        raise TransientDiscordError(f"member list rate limited for {wait:g} s")
                    await asyncio.sleep(wait)  # Discord said when: the same request then succeeds
                    await request(nonce)
            return running.members
        finally:
            del self._passes[nonce]
