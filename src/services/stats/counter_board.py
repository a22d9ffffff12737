"""The values counters show, and the member tally behind `{humans}`, `{bots}` and `{role:ID}`.

Pure state with no I/O. The tally comes from one pass over the member list (gateway chunks, in no
guaranteed order) and is then followed through joins, leaves and member updates. Events that arrive while
the pass is running are not applied to the half-built tally: each member they touch is remembered with its
final state, and when the pass ends the tally is corrected for exactly those members, whether or not the
pass saw them. Only ids of members holding a tracked role are kept, never the whole member list.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from src.types.models import CounterKind
from src.types.ports import MemberInfo

ROLE_PREFIX = "role:"


def role_key(role_id: int) -> str:
    """Return the board key of the count of members holding `role_id`."""
    return f"{ROLE_PREFIX}{role_id}"


def role_of(key: str) -> int | None:
    """Return the role id a board key counts, or None for other keys."""
    return int(key.removeprefix(ROLE_PREFIX)) if key.startswith(ROLE_PREFIX) else None


@dataclass(slots=True)
class _Touched:
    """A member an event changed during the pass: its final state, and what the pass counted for it."""

    present: bool
    bot: bool
    roles: frozenset[int]
    seen: MemberInfo | None = None


class MemberTally:
    """How many members are bots, and which members hold each tracked role."""

    def __init__(self, tracked_roles: Iterable[int] = ()) -> None:
        self._tracked = frozenset(tracked_roles)
        self.bots: int | None = None  # None until a pass has finished
        self._holders: dict[int, set[int]] = {role: set() for role in self._tracked}
        self._pass: dict[int, _Touched] | None = None  # members touched by events during a pass
        self._pass_bots = 0

    @property
    def tracked_roles(self) -> frozenset[int]:
        """Return the roles whose holders are kept."""
        return self._tracked

    @property
    def passing(self) -> bool:
        """Whether a member-list pass is in progress."""
        return self._pass is not None

    def holders(self, role_id: int) -> int | None:
        """Return how many members hold a tracked role (None before the first pass or if untracked)."""
        if self.bots is None or role_id not in self._holders:
            return None
        return len(self._holders[role_id])

    # --- the pass -------------------------------------------------------------------------------------

    def begin_pass(self) -> None:
        """Start counting from scratch; events from now on are remembered for the correction."""
        self._pass = {}
        self._pass_bots = 0
        self._pass_holders: dict[int, set[int]] = {role: set() for role in self._tracked}

    def add_chunk(self, members: Iterable[MemberInfo]) -> None:
        """Count one chunk of the member list."""
        if self._pass is None:
            return
        for member in members:
            touched = self._pass.get(member.user_id)
            if touched is not None:
                touched.seen = member
            self._pass_bots += member.bot
            for role in self._tracked.intersection(member.roles):
                self._pass_holders[role].add(member.user_id)

    def finish_pass(self) -> None:
        """Make the pass's count the tally, corrected for the members events changed meanwhile."""
        if self._pass is None:
            return
        bots, holders = self._pass_bots, self._pass_holders
        for user_id, touched in self._pass.items():
            if touched.seen is not None and touched.seen.bot:
                bots -= 1
            if touched.present and touched.bot:
                bots += 1
            for role, ids in holders.items():
                if touched.present and role in touched.roles:
                    ids.add(user_id)
                else:
                    ids.discard(user_id)
        self.bots, self._holders = max(0, bots), holders
        self._pass = None

    def abandon_pass(self) -> None:
        """Drop an unfinished pass; the tally from the last finished one (if any) stays."""
        self._pass = None

    # --- events ---------------------------------------------------------------------------------------

    def joined(self, member: MemberInfo) -> None:
        """Follow a join."""
        if self._note(member.user_id, present=True, bot=member.bot, roles=member.roles):
            return
        if self.bots is not None:
            self.bots += member.bot
            self._set_roles(member.user_id, member.roles)

    def left(self, user_id: int, *, bot: bool) -> None:
        """Follow a leave (or the member-remove of a ban)."""
        if self._note(user_id, present=False, bot=bot, roles=frozenset()):
            return
        if self.bots is not None:
            self.bots = max(0, self.bots - bot)
            self._set_roles(user_id, frozenset())

    def updated(self, member: MemberInfo) -> None:
        """Follow a member update: the roles a member holds now."""
        if self._note(member.user_id, present=True, bot=member.bot, roles=member.roles):
            return
        if self.bots is not None:
            self._set_roles(member.user_id, member.roles)

    def _note(self, user_id: int, *, present: bool, bot: bool, roles: frozenset[int]) -> bool:
        """During a pass, remember a member's final state for the correction; True if one is running."""
        if self._pass is None:
            return False
        touched = self._pass.get(user_id)
        if touched is None:
            self._pass[user_id] = _Touched(present, bot, roles)
        else:
            touched.present, touched.bot, touched.roles = present, bot, roles
        return True

    def _set_roles(self, user_id: int, roles: frozenset[int]) -> None:
        for role, ids in self._holders.items():
            if role in roles:
                ids.add(user_id)
            else:
                ids.discard(user_id)


class CountBoard:
    """Every value a template can read, by key (`members`, `bots`, `role:ID`, `goal`, ...)."""

    def __init__(self, tally: MemberTally) -> None:
        self._values: dict[str, int] = {}
        self.tally = tally
        self._role_counts: dict[int, int] | None = None  # from Discord's role member-counts, when it works

    def set(self, key: str, value: int) -> bool:
        """Set a value (never below 0); return whether it changed."""
        value = max(0, value)
        if self._values.get(key) == value:
            return False
        self._values[key] = value
        return True

    def get(self, key: str) -> int | None:
        """Return one value, or None while it is unknown."""
        return self.values().get(key)

    def set_role_counts(self, counts: Mapping[int, int] | None) -> None:
        """Use Discord's role member counts (None: the endpoint is unavailable, use the tally)."""
        self._role_counts = None if counts is None else dict(counts)

    def values(self) -> dict[str, int]:
        """Return every known value, derived ones included."""
        values = dict(self._values)
        members, bots = values.get(CounterKind.MEMBERS), self.tally.bots
        if bots is not None:
            values[CounterKind.BOTS] = bots
            if members is not None:
                values[CounterKind.HUMANS] = max(0, members - bots)
        for role in self.tally.tracked_roles:
            count = self._role_counts.get(role, 0) if self._role_counts is not None else None
            if count is None:
                count = self.tally.holders(role)
            if count is not None:
                values[role_key(role)] = count
        return values
