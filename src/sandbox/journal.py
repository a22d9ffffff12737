"""What happened in the sandbox, for tests and benchmarks to assert on."""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple

Direction = Literal["send", "recv"]

# Long demo runs must not grow without bound; keep the newest entries.
MAX_ENTRIES = 100_000


class RequestRecord(NamedTuple):
    """One REST request: clock time, method, path (without /api/v10), query, status and bucket hash."""

    t: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    bucket: str | None


class GatewayRecord(NamedTuple):
    """One gateway frame: clock time, direction seen from the sandbox, opcode and event name."""

    t: float
    direction: Direction
    op: int
    event: str | None


class RenameRecord(NamedTuple):
    """One successful channel rename."""

    t: float
    old: str
    new: str


class Rename429Record(NamedTuple):
    """One rename refused by the hidden rename limit, with the retry_after that was answered."""

    t: float
    retry_after: float


class InteractionResponseRecord(NamedTuple):
    """One answer to an interaction: callback:4/5, edit_original, delete_original or followup, as shown."""

    t: float
    interaction_id: int
    action: str
    content: str
    embeds: list[dict[str, Any]]
    flags: int  # 64 = ephemeral, 128 = still "thinking"
    attachments: tuple[dict[str, Any], ...] = ()  # {filename, size, content_type} of each attached file


def _trim(entries: list[Any]) -> None:
    """Drop the oldest entries once the list exceeds its bound."""
    if len(entries) > MAX_ENTRIES:
        del entries[: len(entries) - MAX_ENTRIES]


class Journal:
    """Append-only log of REST requests, gateway frames, renames, presences and member requests."""

    def __init__(self) -> None:
        self.requests: list[RequestRecord] = []
        self.gateway: list[GatewayRecord] = []
        self.unknown_routes: list[str] = []
        self.presences: list[dict[str, Any]] = []
        self.member_requests: list[dict[str, Any]] = []
        self.presence_limit_exceeded = 0
        self.interaction_responses: list[InteractionResponseRecord] = []
        self._renames: dict[int, list[RenameRecord]] = {}
        self._rename_429s: dict[int, list[Rename429Record]] = {}

    def record_request(self, record: RequestRecord) -> None:
        """Append a REST request."""
        self.requests.append(record)
        _trim(self.requests)

    def record_unknown_route(self, method: str, path: str) -> None:
        """Remember a request to a route the sandbox does not emulate."""
        self.unknown_routes.append(f"{method} {path}")
        _trim(self.unknown_routes)

    def record_gateway(self, t: float, direction: Direction, op: int, event: str | None) -> None:
        """Append a gateway frame."""
        self.gateway.append(GatewayRecord(t, direction, op, event))
        _trim(self.gateway)

    def record_rename(self, channel_id: int, t: float, old: str, new: str) -> None:
        """Append a successful rename of `channel_id`."""
        self._renames.setdefault(channel_id, []).append(RenameRecord(t, old, new))

    def record_rename_429(self, channel_id: int, t: float, retry_after: float) -> None:
        """Append a rename of `channel_id` refused by the hidden limit."""
        self._rename_429s.setdefault(channel_id, []).append(Rename429Record(t, retry_after))

    def record_interaction_response(self, record: InteractionResponseRecord) -> None:
        """Append an answer to an interaction."""
        self.interaction_responses.append(record)
        _trim(self.interaction_responses)

    def requests_matching(self, pattern: str) -> list[RequestRecord]:
        """Return the requests whose "METHOD /path" matches the regex `pattern` (re.search)."""
        regex = re.compile(pattern)
        return [r for r in self.requests if regex.search(f"{r.method} {r.path}")]

    def renames(self, channel_id: int) -> list[RenameRecord]:
        """Return the successful renames of `channel_id`, oldest first."""
        return list(self._renames.get(channel_id, []))

    def rename_429s(self, channel_id: int) -> list[Rename429Record]:
        """Return the renames of `channel_id` refused by the hidden limit."""
        return list(self._rename_429s.get(channel_id, []))

    def gateway_events(self, direction: Direction | None = None) -> list[GatewayRecord]:
        """Return gateway frames, optionally only one direction."""
        return [g for g in self.gateway if direction is None or g.direction == direction]

    def identify_count(self) -> int:
        """How many IDENTIFY frames clients have sent."""
        return sum(1 for g in self.gateway if g.direction == "recv" and g.op == 2)

    def to_dict(self) -> dict[str, Any]:
        """Return everything as JSON-ready data (what the control API's GET /journal returns)."""
        return {
            "requests": [r._asdict() for r in self.requests],
            "gateway": [g._asdict() for g in self.gateway],
            "unknown_routes": list(self.unknown_routes),
            "renames": {str(c): [r._asdict() for r in rs] for c, rs in self._renames.items()},
            "rename_429s": {str(c): [r._asdict() for r in rs] for c, rs in self._rename_429s.items()},
            "presences": list(self.presences),
            "presence_limit_exceeded": self.presence_limit_exceeded,
            "member_requests": list(self.member_requests),
            "interaction_responses": [
                {**r._asdict(), "attachments": list(r.attachments)} for r in self.interaction_responses
            ],
        }
