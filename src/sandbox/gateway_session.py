"""Gateway vocabulary (opcodes, intents, which intent each event needs) and the session record."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from src.sandbox.gateway_io import Connection

OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_PRESENCE = 3
OP_VOICE_STATE = 4
OP_RESUME = 6
OP_RECONNECT = 7
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

GUILDS, GUILD_MEMBERS, GUILD_MODERATION = 1 << 0, 1 << 1, 1 << 2
GUILD_PRESENCES, GUILD_MESSAGES, MESSAGE_CONTENT = 1 << 8, 1 << 9, 1 << 15
PRIVILEGED_INTENTS = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT
ALL_INTENTS = (1 << 26) - 1

# Which intent a dispatch needs; events not listed (READY, RESUMED, chunks) go to every session.
EVENT_INTENTS: dict[str, int] = {
    "GUILD_CREATE": GUILDS,
    "GUILD_UPDATE": GUILDS,
    "GUILD_DELETE": GUILDS,
    "CHANNEL_CREATE": GUILDS,
    "CHANNEL_UPDATE": GUILDS,
    "CHANNEL_DELETE": GUILDS,
    "GUILD_ROLE_CREATE": GUILDS,
    "GUILD_ROLE_UPDATE": GUILDS,
    "GUILD_ROLE_DELETE": GUILDS,
    "GUILD_MEMBER_ADD": GUILD_MEMBERS,
    "GUILD_MEMBER_UPDATE": GUILD_MEMBERS,
    "GUILD_MEMBER_REMOVE": GUILD_MEMBERS,
    "GUILD_BAN_ADD": GUILD_MODERATION,
    "GUILD_BAN_REMOVE": GUILD_MODERATION,
    "PRESENCE_UPDATE": GUILD_PRESENCES,
    "MESSAGE_CREATE": GUILD_MESSAGES,
    "MESSAGE_UPDATE": GUILD_MESSAGES,
    "MESSAGE_DELETE": GUILD_MESSAGES,
}


class DeferredPayload(ABC):
    """A dispatch's data that is built only when its frame is written.

    A million-member answer is a thousand chunks: queued or kept for RESUME as objects of a few fields each,
    they cost nothing, where their built payloads would take gigabytes.
    """

    @abstractmethod
    def build(self) -> dict[str, Any]:
        """Return the data to write now."""

    def build_json(self) -> str:
        """Return the data to write now as compact JSON (a subclass may write it faster than json.dumps)."""
        return json.dumps(self.build(), separators=(",", ":"), ensure_ascii=False)


@dataclass
class Session:
    """A gateway session: what IDENTIFY asked for, its sequence and the dispatches kept for RESUME.

    `buffer` holds every numbered frame for RESUME; `history` holds only the guild's dispatches the session
    was sent (no READY, GUILD_CREATE, RESUMED or chunks), each once, for `GatewayHub.replay`.
    """

    id: str
    intents: int
    shard: list[int] | None
    large_threshold: int
    receives_guild: bool
    buffer: deque[tuple[int, str, Any]]
    seq: int = 0
    invalid: bool = False
    connection: Connection | None = None
    last_attached: int = 0
    history: deque[tuple[str, Any]] = field(default_factory=deque)

    def can_replay_from(self, seq: int) -> bool:
        """Whether every dispatch after `seq` is still buffered."""
        if seq > self.seq:
            return False
        return not self.buffer or self.buffer[0][0] <= seq + 1


def frame(op: int, d: Any) -> dict[str, Any]:
    """A non-dispatch frame."""
    return {"op": op, "d": d, "s": None, "t": None}


def dispatch_frame(seq: int, event: str, d: Any) -> dict[str, Any]:
    """A dispatch (op 0) frame."""
    return {"op": OP_DISPATCH, "s": seq, "t": event, "d": d}
