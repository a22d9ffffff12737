"""Telling a replayed member event from a new one.

Discord can deliver an event twice: a RESUME replays what was dispatched while the connection was down, and
a reconnect during a burst can replay what was already handled. A join carries `joined_at`, so the same
member and `joined_at` is the same join. A leave, ban or unban carries nothing like it, but the same kind
again for the same member with no opposite event between (no join between two leaves, no unban between two
bans) can only be a replay, as long as the bot saw every event in between. That holds within one gateway
session, which is also the only place replays come from, so the memory is cleared on every fresh session.
"""

from __future__ import annotations

from datetime import datetime

from src.types.models import EventKind

_AXIS = {
    EventKind.JOIN: "membership",
    EventKind.LEAVE: "membership",
    EventKind.BAN: "ban",
    EventKind.UNBAN: "ban",
}


class ReplayGuard:
    """Remembers each member's latest join-or-leave and ban-or-unban seen in this gateway session."""

    def __init__(self) -> None:
        # (member id, pair) -> the latest event's kind, when it was recorded, and a join's joined_at
        self._last: dict[tuple[str, str], tuple[EventKind, datetime, datetime | None]] = {}

    def is_replay(self, kind: EventKind, member_id: str, joined_at: datetime | None = None) -> bool:
        """Return whether the event repeats the member's latest event of its pair (a join: same joined_at)."""
        last = self._last.get((member_id, _AXIS[kind]))
        if last is None or last[0] is not kind:
            return False
        if kind is EventKind.JOIN:
            return joined_at is not None and last[2] == joined_at  # a rejoin has a new joined_at
        return True

    def note(self, kind: EventKind, member_id: str, at: datetime, joined_at: datetime | None = None) -> None:
        """Remember `kind` as the member's latest event of its pair."""
        self._last[(member_id, _AXIS[kind])] = (kind, at, joined_at)

    def new_session(self) -> None:
        """Forget everything: a fresh gateway session replays nothing from before it."""
        self._last.clear()

    def forget_before(self, horizon: datetime) -> None:
        """Forget events older than `horizon`, so a long session does not hold every member forever."""
        self._last = {key: value for key, value in self._last.items() if value[1] >= horizon}
