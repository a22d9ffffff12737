"""The values counters show, and the member tally behind `{humans}`, `{bots}` and `{role:ID}`.

Pure state with no I/O. The tally comes from one pass over the member list (gateway chunks, in no
guaranteed order) and is then followed through joins, leaves and member updates. Events that arrive while
the pass is running are not applied to the half-built tally: each member they touch is remembered with its
final state, and when the pass ends the tally is corrected for exactly those members, whether or not the
pass saw them, and whether it saw them before or after the event. Only the ids of bots and of members
holding a tracked role are kept, never the whole member list; keeping them as sets makes every event
idempotent (a replayed join is not counted twice, the leave of an unknown member takes nothing away).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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
    """A member an event changed during the pass: its final state."""

    present: bool
    bot: bool
    roles: frozenset[int]


@dataclass(slots=True)
class _Count:
    """The ids a tally is made of: the bots, and the holders of each tracked role."""

    bots: set[int] = field(default_factory=set)
    holders: dict[int, set[int]] = field(default_factory=dict)

    @classmethod
    def empty(cls, roles: Iterable[int]) -> _Count:
        return cls(set(), {role: set() for role in roles})

    def apply(self, user_id: int, state: _Touched) -> None:
        """Make the member's entry match `state` (absent: in no set)."""
        if state.present and state.bot:
            self.bots.add(user_id)
        else:
            self.bots.discard(user_id)
        for role, ids in self.holders.items():
            if state.present and role in state.roles:
                ids.add(user_id)
            else:
                ids.discard(user_id)


class MemberTally:
    """How many members are bots, and which members hold each tracked role."""

    def __init__(self, tracked_roles: Iterable[int] = ()) -> None:
        self._tracked = frozenset(tracked_roles)
        self._count: _Count | None = None  # None until a pass has finished
        self._pass: _Count | None = None  # the half-built count of a pass in progress
        self._touched: dict[int, _Touched] = {}  # members events changed during the pass

    @property
    def tracked_roles(self) -> frozenset[int]:
        """Return the roles whose holders are kept."""
        return self._tracked

    @property
    def counting(self) -> bool:
        """Whether a finished pass gave a count that events now move."""
        return self._count is not None

    @property
    def passing(self) -> bool:
        """Whether a member-list pass is in progress."""
        return self._pass is not None

    @property
    def bots(self) -> int | None:
        """Return how many members are bots (None until a pass has finished)."""
        return None if self._count is None else len(self._count.bots)

    def track(self, roles: Iterable[int]) -> None:
        """Keep the holders of `roles` too (a new role counter).

        Their holders are unknown until a pass that begins after this call has finished: the last pass
        (and one running now) did not keep them.
        """
        self._tracked |= frozenset(roles)

    def holders(self, role_id: int) -> int | None:
        """Return how many members hold a tracked role (None until a pass has counted it, or if untracked)."""
        if self._count is None or role_id not in self._count.holders:
            return None
        return len(self._count.holders[role_id])

    # --- the pass -------------------------------------------------------------------------------------

    def begin_pass(self, *, roles: bool = True) -> None:
        """Start counting from scratch; events from now on are remembered for the correction.

        Without `roles` the pass counts bots only: Discord's role member counts already give the roles, so
        no holder ids are kept.
        """
        self._pass = _Count.empty(self._tracked if roles else ())
        self._touched = {}

    def add_chunk(self, members: Iterable[MemberInfo]) -> None:
        """Count one chunk of the member list."""
        if self._pass is None:
            return
        for member in members:
            if member.bot:
                self._pass.bots.add(member.user_id)
            for role in member.roles:
                holders = self._pass.holders.get(role)  # only the roles tracked when the pass began
                if holders is not None:
                    holders.add(member.user_id)

    def finish_pass(self) -> None:
        """Make the pass's count the tally, corrected for the members events changed meanwhile."""
        if self._pass is None:
            return
        count, self._pass = self._pass, None
        for user_id, state in self._touched.items():
            count.apply(user_id, state)
        self._count, self._touched = count, {}

    def abandon_pass(self) -> None:
        """Drop an unfinished pass; the last finished tally (if any) stays, having followed every event."""
        self._pass = None
        self._touched = {}

    # --- events ---------------------------------------------------------------------------------------

    def joined(self, member: MemberInfo) -> None:
        """Follow a join."""
        self._follow(member.user_id, _Touched(True, member.bot, member.roles))

    def left(self, user_id: int, *, bot: bool) -> None:
        """Follow a leave (or the member-remove of a ban)."""
        self._follow(user_id, _Touched(False, bot, frozenset()))

    def updated(self, member: MemberInfo) -> None:
        """Follow a member update: the roles a member holds now."""
        self._follow(member.user_id, _Touched(True, member.bot, member.roles))

    def _follow(self, user_id: int, state: _Touched) -> None:
        """Apply one member's new state; during a pass also remember it for the pass's correction.

        The last finished count keeps following events while a pass runs, so the counters never freeze
        for the length of a pass (minutes in a big guild).
        """
        if self._pass is not None:
            self._touched[user_id] = state
        if self._count is not None:
            self._count.apply(user_id, state)


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

    def set_optional(self, key: str, value: int | None) -> bool:
        """Set a value, or forget it when `value` is None; return whether it changed."""
        if value is not None:
            return self.set(key, value)
        return self._values.pop(key, None) is not None

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
