"""Tests for MemberTally and CountBoard: what {bots}, {humans} and {role:ID} say after passes and events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from src.services.stats.counter_board import CountBoard, MemberTally, role_key, role_of
from src.types.models import CounterKind
from src.types.ports import MemberInfo

ROLE = 555_000_000_000_000_001  # tracked
OTHER_ROLE = 555_000_000_000_000_002  # held by members, never tracked

BOT = MemberInfo(1, True)
HUMAN = MemberInfo(2, False)
HOLDER = MemberInfo(3, False, frozenset({ROLE, OTHER_ROLE}))
NEW_BOT = MemberInfo(9, True)
NEW_HOLDER = MemberInfo(8, False, frozenset({ROLE}))
HUMAN_WITH_ROLE = MemberInfo(2, False, frozenset({ROLE}))
HOLDER_WITHOUT_ROLE = MemberInfo(3, False, frozenset({OTHER_ROLE}))
EVERYONE = (BOT, HUMAN, HOLDER)


@dataclass(frozen=True)
class Step:
    """One thing that happens to a tally: a pass boundary, a chunk, or an event."""

    action: str  # begin, chunk, finish, abandon, join, leave, update
    members: Sequence[MemberInfo] = ()


def begin() -> Step:
    return Step("begin")


def chunk(*members: MemberInfo) -> Step:
    return Step("chunk", members)


def finish() -> Step:
    return Step("finish")


def abandon() -> Step:
    return Step("abandon")


def join(member: MemberInfo) -> Step:
    return Step("join", (member,))


def leave(member: MemberInfo) -> Step:
    return Step("leave", (member,))


def update(member: MemberInfo) -> Step:
    return Step("update", (member,))


def full_pass(*members: MemberInfo) -> list[Step]:
    """A pass that sees `members` in one chunk and nothing happens meanwhile."""
    return [begin(), chunk(*members), finish()]


def run(steps: Sequence[Step], tally: MemberTally | None = None) -> MemberTally:
    """Apply `steps` to a tally tracking ROLE and return it."""
    tally = tally or MemberTally([ROLE])
    for step in steps:
        if step.action == "begin":
            tally.begin_pass()
        elif step.action == "chunk":
            tally.add_chunk(step.members)
        elif step.action == "finish":
            tally.finish_pass()
        elif step.action == "abandon":
            tally.abandon_pass()
        elif step.action == "join":
            tally.joined(step.members[0])
        elif step.action == "leave":
            tally.left(step.members[0].user_id, bot=step.members[0].bot)
        elif step.action == "update":
            tally.updated(step.members[0])
        else:
            raise AssertionError(f"unknown step {step.action}")
    return tally


# (id, steps, bots, holders of ROLE): None means unknown (no pass has finished yet)
SCENARIOS: list[tuple[str, list[Step], int | None, int | None]] = [
    ("pass-only", full_pass(*EVERYONE), 1, 1),
    ("chunks-in-reverse-order", [begin(), chunk(HOLDER), chunk(HUMAN), chunk(BOT), finish()], 1, 1),
    ("empty-guild", [begin(), chunk(), finish()], 0, 0),
    ("no-pass-yet", [join(NEW_BOT), update(HUMAN_WITH_ROLE)], None, None),
    ("unfinished-pass", [begin(), chunk(*EVERYONE)], None, None),
    # before the pass: nothing to follow yet, the pass counts the member once
    ("join-before-pass-seen", [join(NEW_BOT), *full_pass(*EVERYONE, NEW_BOT)], 2, 1),
    ("leave-before-pass-unseen", [leave(BOT), *full_pass(HUMAN, HOLDER)], 0, 1),
    ("update-before-pass-seen", [update(HUMAN_WITH_ROLE), *full_pass(BOT, HUMAN_WITH_ROLE, HOLDER)], 1, 2),
    # after the pass: followed
    ("join-after-pass", [*full_pass(*EVERYONE), join(NEW_BOT), join(NEW_HOLDER)], 2, 2),
    ("leave-after-pass", [*full_pass(*EVERYONE), leave(BOT), leave(HOLDER)], 0, 0),
    ("update-adds-role-after-pass", [*full_pass(*EVERYONE), update(HUMAN_WITH_ROLE)], 1, 2),
    ("update-removes-role-after-pass", [*full_pass(*EVERYONE), update(HOLDER_WITHOUT_ROLE)], 1, 0),
    ("join-twice-counts-once", [*full_pass(*EVERYONE), join(NEW_BOT), join(NEW_BOT)], 2, 1),
    ("leave-of-unknown-member", [*full_pass(*EVERYONE), leave(NEW_BOT), leave(NEW_HOLDER)], 1, 1),
    # during the pass, the member not seen by it (joined after its chunk was cut, or left before)
    ("join-during-pass-unseen", [begin(), chunk(*EVERYONE), join(NEW_BOT), finish()], 2, 1),
    ("leave-during-pass-unseen", [begin(), leave(BOT), chunk(HUMAN, HOLDER), finish()], 0, 1),
    # during the pass, the member seen by a chunk after the event
    (
        "join-during-pass-seen-later",
        [begin(), chunk(BOT), join(NEW_BOT), chunk(HUMAN, NEW_BOT), finish()],
        2,
        0,
    ),
    ("leave-during-pass-seen-later", [begin(), chunk(HUMAN), leave(BOT), chunk(BOT, HOLDER), finish()], 0, 1),
    (
        "update-during-pass-seen-later-stale",
        [begin(), chunk(BOT), update(HOLDER_WITHOUT_ROLE), chunk(HUMAN, HOLDER), finish()],
        1,
        0,
    ),
    # during the pass, the member seen by a chunk before the event
    (
        "join-during-pass-seen-earlier",
        [begin(), chunk(NEW_BOT, BOT), join(NEW_BOT), chunk(HUMAN), finish()],
        2,
        0,
    ),
    (
        "leave-during-pass-seen-earlier",
        [begin(), chunk(BOT), leave(BOT), chunk(HUMAN, HOLDER), finish()],
        0,
        1,
    ),
    ("bot-update-during-pass-seen-earlier", [begin(), chunk(*EVERYONE), update(BOT), finish()], 1, 1),
    (
        "update-during-pass-seen-earlier",
        [begin(), chunk(HUMAN), update(HUMAN_WITH_ROLE), chunk(BOT, HOLDER), finish()],
        1,
        2,
    ),
    (
        "holder-leaves-during-pass-seen-earlier",
        [begin(), chunk(HOLDER), leave(HOLDER), chunk(BOT, HUMAN), finish()],
        1,
        0,
    ),
    # several events for one member during the pass: the last one wins
    (
        "join-then-leave-during-pass",
        [begin(), chunk(*EVERYONE), join(NEW_BOT), leave(NEW_BOT), finish()],
        1,
        1,
    ),
    (
        "leave-then-rejoin-during-pass",
        [begin(), chunk(*EVERYONE), leave(HOLDER), join(HOLDER_WITHOUT_ROLE), finish()],
        1,
        0,
    ),
    # after a second pass
    ("second-pass-replaces-first", [*full_pass(*EVERYONE), *full_pass(HUMAN)], 0, 0),
    (
        "events-during-second-pass",
        [*full_pass(*EVERYONE), begin(), leave(BOT), chunk(*EVERYONE), finish()],
        0,
        1,
    ),
    # an abandoned pass keeps the previous tally, followed through the events meanwhile
    ("abandoned-pass-keeps-tally", [*full_pass(*EVERYONE), begin(), chunk(HUMAN), abandon()], 1, 1),
    ("abandoned-first-pass", [begin(), chunk(*EVERYONE), abandon()], None, None),
    (
        "abandoned-pass-applies-its-events",
        [*full_pass(*EVERYONE), begin(), join(NEW_BOT), update(HUMAN_WITH_ROLE), abandon()],
        2,
        2,
    ),
    ("events-after-abandon-are-followed", [*full_pass(*EVERYONE), begin(), abandon(), leave(BOT)], 0, 1),
    # never negative
    ("leaves-beyond-zero", [*full_pass(BOT), leave(BOT), leave(BOT), leave(NEW_BOT)], 0, 0),
]


@pytest.mark.parametrize(
    ("steps", "bots", "holders"),
    [pytest.param(steps, bots, holders, id=name) for name, steps, bots, holders in SCENARIOS],
)
def test_pass_scenarios(steps: list[Step], bots: int | None, holders: int | None) -> None:
    """After the steps the tally counts each bot and each holder of the tracked role exactly once."""
    tally = run(steps)
    assert (tally.bots, tally.holders(ROLE)) == (bots, holders)


def test_passing_is_true_only_between_begin_and_end() -> None:
    """`passing` says whether a pass is running, ended by finish or abandon."""
    tally = MemberTally([ROLE])
    assert not tally.passing
    tally.begin_pass()
    assert tally.passing
    tally.finish_pass()
    assert not tally.passing
    tally.begin_pass()
    tally.abandon_pass()
    assert not tally.passing


def test_chunks_and_end_without_a_pass_change_nothing() -> None:
    """A chunk, finish or abandon without a running pass (a late chunk) leaves the tally alone."""
    tally = run(full_pass(*EVERYONE))
    tally.add_chunk([NEW_BOT, NEW_HOLDER])
    tally.finish_pass()
    tally.abandon_pass()
    assert (tally.bots, tally.holders(ROLE)) == (1, 1)


def test_untracked_roles_are_not_kept() -> None:
    """Only tracked roles have a holder count; others are unknown whatever members hold."""
    tally = run(full_pass(*EVERYONE))
    assert tally.tracked_roles == frozenset({ROLE})
    assert tally.holders(OTHER_ROLE) is None


def test_a_tally_without_tracked_roles_still_counts_bots() -> None:
    """With no role tracked, the pass counts bots and ignores the roles members hold."""
    tally = run(full_pass(*EVERYONE), MemberTally())
    assert tally.bots == 1
    assert tally.holders(ROLE) is None


# --- CountBoard ----------------------------------------------------------------------------------------


def board_after(steps: Sequence[Step], members: int | None = None) -> CountBoard:
    board = CountBoard(run(steps))
    if members is not None:
        board.set(CounterKind.MEMBERS, members)
    return board


def test_humans_are_members_minus_bots() -> None:
    """{humans} is the member count minus the bots the tally found; {bots} is the tally's."""
    board = board_after([*full_pass(*EVERYONE), join(NEW_BOT)], members=1234)
    assert board.get(CounterKind.BOTS) == 2
    assert board.get(CounterKind.HUMANS) == 1232


def test_humans_and_bots_are_unknown_before_the_first_pass() -> None:
    """Without a finished pass neither {bots} nor {humans} is known, so no name shows a guess."""
    values = board_after([begin(), chunk(*EVERYONE)], members=1234).values()
    assert CounterKind.BOTS not in values
    assert CounterKind.HUMANS not in values
    assert values[CounterKind.MEMBERS] == 1234


def test_humans_need_the_member_count() -> None:
    """Bots are known after a pass, but humans only once the member count is."""
    values = board_after(full_pass(*EVERYONE)).values()
    assert values[CounterKind.BOTS] == 1
    assert CounterKind.HUMANS not in values


def test_humans_are_never_negative() -> None:
    """A member count behind the tally (more bots than members) gives 0 humans, not a negative."""
    board = board_after(full_pass(BOT, NEW_BOT), members=1)
    assert board.get(CounterKind.HUMANS) == 0


def test_set_reports_changes_and_never_goes_below_zero() -> None:
    """set() says whether the value changed and clamps negatives to 0."""
    board = CountBoard(MemberTally())
    assert board.set(CounterKind.BANS, 5)
    assert not board.set(CounterKind.BANS, 5)
    assert board.set(CounterKind.BANS, -3)
    assert board.get(CounterKind.BANS) == 0
    assert not board.set(CounterKind.BANS, -1)


def test_role_counts_from_the_endpoint_override_the_tally() -> None:
    """Discord's role member count wins over the tally's holders, and None falls back to the tally."""
    board = board_after(full_pass(*EVERYONE))
    assert board.get(role_key(ROLE)) == 1
    board.set_role_counts({ROLE: 57})
    assert board.get(role_key(ROLE)) == 57
    board.set_role_counts(None)
    assert board.get(role_key(ROLE)) == 1


def test_role_counts_from_the_endpoint_need_no_pass() -> None:
    """The endpoint's count is shown before any pass; a tracked role it omits has no holders."""
    board = CountBoard(MemberTally([ROLE, OTHER_ROLE]))
    assert board.get(role_key(ROLE)) is None
    board.set_role_counts({ROLE: 3})
    assert board.get(role_key(ROLE)) == 3
    assert board.get(role_key(OTHER_ROLE)) == 0


def test_untracked_roles_from_the_endpoint_are_ignored() -> None:
    """Roles no template shows are not on the board, even when the endpoint counts them."""
    board = board_after(full_pass(*EVERYONE))
    board.set_role_counts({ROLE: 2, OTHER_ROLE: 40})
    assert role_key(OTHER_ROLE) not in board.values()


def test_role_keys_round_trip() -> None:
    """role_key and role_of convert between a role id and its board key; other keys have no role."""
    assert role_key(ROLE) == f"role:{ROLE}"
    assert role_of(role_key(ROLE)) == ROLE
    assert role_of(CounterKind.MEMBERS) is None


def test_a_role_tracked_later_is_unknown_until_the_next_pass() -> None:
    """A role tracked after a pass has no holder count (not a wrong 0) until a new pass counts it."""
    tally = run(full_pass(*EVERYONE))
    tally.track([OTHER_ROLE])
    assert tally.tracked_roles == frozenset({ROLE, OTHER_ROLE})
    assert tally.holders(OTHER_ROLE) is None
    assert tally.holders(ROLE) == 1
    run([*full_pass(*EVERYONE), update(MemberInfo(2, False, frozenset({OTHER_ROLE})))], tally)
    assert tally.holders(OTHER_ROLE) == 2


def test_a_role_tracked_during_a_pass_waits_for_the_next_one() -> None:
    """The pass running when a role is tracked missed earlier chunks, so it does not count that role."""
    tally = MemberTally([ROLE])
    run([begin(), chunk(HOLDER)], tally)
    tally.track([OTHER_ROLE])
    run([chunk(BOT, MemberInfo(4, False, frozenset({OTHER_ROLE}))), finish()], tally)
    assert tally.holders(OTHER_ROLE) is None
    assert tally.holders(ROLE) == 1
    run(full_pass(*EVERYONE), tally)
    assert tally.holders(OTHER_ROLE) == 1


def test_tracking_a_tracked_role_again_keeps_its_count() -> None:
    """Tracking a role that is already tracked (a second counter of it) keeps its holders."""
    tally = run(full_pass(*EVERYONE))
    tally.track([ROLE])
    assert tally.holders(ROLE) == 1


def test_events_during_a_pass_still_move_the_last_count() -> None:
    """While a second pass runs, a bot joining shows at once instead of waiting for the pass to end."""
    tally = run(full_pass(*EVERYONE))
    tally.begin_pass()
    tally.joined(NEW_BOT)
    assert tally.bots == 2
    tally.add_chunk(EVERYONE)
    tally.finish_pass()
    assert tally.bots == 2


def test_a_pass_without_roles_keeps_no_holder_ids() -> None:
    """When Discord's role counts work the pass counts bots only; the roles stay unknown to the tally."""
    tally = MemberTally([ROLE])
    tally.begin_pass(roles=False)
    tally.add_chunk(EVERYONE)
    tally.finish_pass()
    tally.joined(NEW_HOLDER)
    assert (tally.bots, tally.holders(ROLE)) == (1, None)
