"""Telling a replayed member event from a new one.

Discord can deliver events twice: a RESUME replays what was dispatched while the connection was down, and a
reconnect during a burst can replay what was already handled. A replay re-sends, for each member, the tail
of the events already seen for that member, in order. Two facts identify it:

- a join carries `joined_at`: a join with a `joined_at` already seen this session is that join again, and
  the member's events that followed it are expected again, in the same order;
- a leave, ban or unban carries nothing like it, but the same kind again for the same member with no
  opposite event between (no join between two leaves, no unban between two bans) can only be a replay, as
  long as the bot saw every event in between.

Both hold within one gateway session, which is also the only place replays come from, so the memory is
cleared on every fresh session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from src.types.models import EventKind

_PAIR = {
    EventKind.JOIN: "membership",
    EventKind.LEAVE: "membership",
    EventKind.BAN: "ban",
    EventKind.UNBAN: "ban",
}


@dataclass(frozen=True, slots=True)
class _Seen:
    kind: EventKind
    joined_at: datetime | None
    at: datetime

    def matches(self, kind: EventKind, joined_at: datetime | None) -> bool:
        """Whether an incoming event is this one again."""
        return self.kind is kind and (kind is not EventKind.JOIN or self.joined_at == joined_at)


@dataclass
class _Member:
    seen: list[_Seen] = field(default_factory=list)
    replaying_from: int | None = None  # the next seen event a replay in progress should repeat


class ReplayGuard:
    """Remembers each member's events in this gateway session, and follows a replay through them."""

    def __init__(self) -> None:
        self._members: dict[str, _Member] = {}

    def is_new(
        self, kind: EventKind, member_id: str, at: datetime, joined_at: datetime | None = None
    ) -> bool:
        """Return False for a replay of an event already seen; otherwise remember the event, return True."""
        member = self._members.setdefault(member_id, _Member())
        if self._continues_replay(member, kind, joined_at) or self._starts_replay(member, kind, joined_at):
            return False
        member.seen.append(_Seen(kind, joined_at, at))
        return True

    def new_session(self) -> None:
        """Forget everything: a fresh gateway session replays nothing from before it."""
        self._members.clear()

    def forget_before(self, horizon: datetime) -> None:
        """Forget events older than `horizon`, so a long session does not hold every member forever."""
        for member_id, member in list(self._members.items()):
            member.seen = [seen for seen in member.seen if seen.at >= horizon]
            member.replaying_from = None
            if not member.seen:
                del self._members[member_id]

    @staticmethod
    def _continues_replay(member: _Member, kind: EventKind, joined_at: datetime | None) -> bool:
        """Whether the event is the next one of a replay in progress (which then moves on)."""
        position = member.replaying_from
        member.replaying_from = None
        if position is None or not member.seen[position].matches(kind, joined_at):
            return False
        if position + 1 < len(member.seen):
            member.replaying_from = position + 1
        return True

    @staticmethod
    def _starts_replay(member: _Member, kind: EventKind, joined_at: datetime | None) -> bool:
        """Whether the event repeats one already seen: a known join, or the pair's latest event again."""
        if kind is EventKind.JOIN:
            if joined_at is None:
                return False
            for position in range(len(member.seen) - 1, -1, -1):
                if member.seen[position].matches(kind, joined_at):
                    if position + 1 < len(member.seen):
                        member.replaying_from = position + 1
                    return True
            return False
        latest = next((s for s in reversed(member.seen) if _PAIR[s.kind] == _PAIR[kind]), None)
        return latest is not None and latest.kind is kind
