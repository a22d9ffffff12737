"""Seeded bots and roles by arithmetic, sparse role changes and exact role counts, no per-member objects."""

from __future__ import annotations

import json
import tracemalloc
from typing import Any

import pytest

from src.sandbox import payloads
from src.sandbox.config import SandboxConfig
from src.sandbox.ids import SEEDED_MEMBERS_START, SnowflakeFactory, seeded_role_id
from src.sandbox.permission_names import permission_mask, permission_names
from src.sandbox.state import GuildState
from tests.clock import ManualClock

ROLE_1, ROLE_2, ROLE_3 = (seeded_role_id(k) for k in (1, 2, 3))


def guild(**overrides: Any) -> GuildState:
    """A guild state on a manual clock."""
    clock = ManualClock()
    return GuildState(SandboxConfig(**overrides), clock, SnowflakeFactory(clock))


def member(index: int) -> int:
    """The id of seeded member `index`."""
    return SEEDED_MEMBERS_START + index


def held_by_rule(state: GuildState, seeded: int, role_id: int) -> int:
    """Count the seeded members holding `role_id`, one by one (what the cheap count must agree with)."""
    return sum(role_id in state.member_roles(member(i)) for i in range(seeded))


def test_one_in_a_hundred_seeded_members_is_a_bot() -> None:
    """With the default 1% share, seeded index i is a bot iff i % 100 == 99, and the count says so too."""
    state = guild(members=1000)
    bots = [i for i in range(1000) if state.user(member(i)).bot]
    assert bots == list(range(99, 1000, 100))
    assert state.bot_member_count == 10 + 1  # the StatsBot is a bot member too


@pytest.mark.parametrize(("members", "share"), [(1_000_000, 0.01), (12_345, 0.07), (999, 0.29), (50, 0.01)])
def test_bot_count_is_floor_of_share(members: int, share: float) -> None:
    """floor(members * share) seeded bots, spread so that the first n members hold floor(n * share)."""
    state = guild(members=members, bot_share=share)
    sample = min(members, 5000)
    assert sum(state.is_seeded_bot(i) for i in range(sample)) == state.seeded_bot_count(sample)
    assert state.bot_member_count == int(members * share + 1e-9) + 1


def test_seeded_roles_exist_with_fixed_ids() -> None:
    """Role 1..Role 3 have fixed ids, beside @everyone and the bot's managed role."""
    state = guild(members=10)
    names = {role.name: role.id for role in state.roles.values()}
    assert names == {
        "@everyone": state.guild_id,
        "StatsBot": state.bot_role_id,
        "Role 1": ROLE_1,
        "Role 2": ROLE_2,
        "Role 3": ROLE_3,
    }


def test_each_seeded_role_is_one_block_of_role_members() -> None:
    """Role k is held by `role_members` consecutive seeded indices from floor((k-1)*N/R), wrapping around."""
    state = guild(members=1000, seeded_roles=3, role_members=400)
    holders = {
        r: [i for i in range(1000) if r in state.member_roles(member(i))] for r in (ROLE_1, ROLE_2, ROLE_3)
    }
    assert holders[ROLE_1] == list(range(0, 400))
    assert holders[ROLE_2] == list(range(333, 733))
    assert holders[ROLE_3] == [*range(0, 66), *range(666, 1000)]
    assert [state.role_member_count(r) for r in (ROLE_1, ROLE_2, ROLE_3)] == [400, 400, 400]


def test_role_members_is_capped_by_the_member_count() -> None:
    """With fewer seeded members than `role_members`, every seeded member holds every seeded role."""
    state = guild(members=50)
    assert state.role_member_count(ROLE_1) == held_by_rule(state, 50, ROLE_1) == 50


def test_counts_stay_exact_through_joins_leaves_and_role_changes() -> None:
    """Leaving, rejoining, joining with roles, and giving/taking roles keep every count equal to a recount."""
    state = guild(members=300, role_members=100)
    state.remove_member(member(5))  # held Role 1
    state.add_member(member(5))  # comes back without roles, as on Discord
    newcomer = state.add_member(username="new", roles=[ROLE_2])
    state.set_member_role(member(150), ROLE_1, True)
    state.set_member_role(member(0), ROLE_1, False)
    state.set_member_role(member(1), ROLE_1, False)
    state.set_member_role(member(1), ROLE_1, True)  # back to what the rule says
    recount = {
        r: sum(r in state.member_roles(uid) for uid in state.members.ascending()) for r in (ROLE_1, ROLE_2)
    }
    assert recount == {ROLE_1: state.role_member_count(ROLE_1), ROLE_2: state.role_member_count(ROLE_2)}
    assert state.role_member_count(ROLE_1) == 100 - 1 + 1 - 1  # member 5 left, 150 given it, 0 lost it
    assert state.member_roles(newcomer) == [ROLE_2]
    assert state.role_exceptions == 5  # bot, member 5, the newcomer, members 150 and 0 (member 1 is back)


def test_a_member_who_leaves_loses_their_role_count() -> None:
    """Removing a role holder lowers the role's count; removing a seeded bot lowers the bot count."""
    state = guild(members=300, role_members=100)
    bots = state.bot_member_count
    state.remove_member(member(10))
    state.remove_member(member(199))  # a bot
    assert (state.role_member_count(ROLE_1), state.bot_member_count) == (99, bots - 1)


def test_an_added_bot_counts_and_a_seeded_bot_stays_one_on_rejoin() -> None:
    """`bot=True` makes a bot member; a seeded bot that leaves and rejoins is still a bot."""
    state = guild(members=300)
    before = state.bot_member_count
    state.add_member(username="helper", bot=True)
    state.remove_member(member(99))
    state.add_member(member(99))
    assert (state.bot_member_count, state.user(member(99)).bot) == (before + 1, True)


def test_giving_a_role_twice_changes_nothing() -> None:
    """set_member_role reports whether anything changed; the count moves once."""
    state = guild(members=300, role_members=10)
    first = state.set_member_role(member(200), ROLE_1, True)
    second = state.set_member_role(member(200), ROLE_1, True)
    assert (first, second, state.role_member_count(ROLE_1)) == (True, False, 11)


@pytest.mark.parametrize("role", ["everyone", "bot"])
def test_everyone_and_the_managed_role_cannot_be_given(role: str) -> None:
    """@everyone and the bot's managed role are refused with ValueError."""
    state = guild(members=10)
    role_id = state.guild_id if role == "everyone" else state.bot_role_id
    with pytest.raises(ValueError, match="cannot be given"):
        state.set_member_role(member(1), role_id, True)


def test_unknown_role_or_member_is_a_key_error() -> None:
    """An unknown role or a non-member is a KeyError (404 on the control port)."""
    state = guild(members=10)
    with pytest.raises(KeyError):
        state.set_member_role(member(1), 12345, True)
    with pytest.raises(KeyError):
        state.set_member_role(member(50), ROLE_1, True)


def test_deleting_a_seeded_role_strips_it_from_everyone() -> None:
    """After deleting Role 1 no member lists it, even one that was given it by hand."""
    state = guild(members=100)
    state.set_member_role(member(3), ROLE_2, False)
    state.delete_role(ROLE_1)
    assert ROLE_1 not in state.roles
    assert all(ROLE_1 not in state.member_roles(uid) for uid in state.members.ascending())
    with pytest.raises(KeyError):
        state.role_member_count(ROLE_1)


def test_created_role_counts_from_zero() -> None:
    """A created role is held by nobody until given, and sits above the other roles."""
    state = guild(members=10)
    role = state.create_role("Helpers")
    state.set_member_role(member(2), role.id, True)
    top = max(r.position for r in state.roles.values() if r.id != role.id)
    assert (state.role_member_count(role.id), role.position) == (1, top + 1)


def test_member_payload_carries_roles_and_bot_flag() -> None:
    """member_payload lists the role ids as strings and user.bot for a bot."""
    state = guild(members=200, role_members=100)
    human, bot = payloads.member_payload(state, member(0)), payloads.member_payload(state, member(199))
    assert human["roles"] == [str(ROLE_1), str(ROLE_3)]
    assert "bot" not in human["user"]
    assert (bot["user"]["bot"], bot["roles"]) == (True, [str(ROLE_3)])


def test_the_bot_holds_its_role() -> None:
    """The StatsBot member holds its managed role, counted once."""
    state = guild(members=10)
    assert state.member_roles(state.bot_user_id) == [state.bot_role_id]
    assert state.role_member_count(state.bot_role_id) == 1


def test_million_members_with_roles_stay_cheap() -> None:
    """Seeding 1,000,000 members with bots and three 5,000-member roles allocates almost nothing."""
    tracemalloc.start()
    try:
        state = guild(members=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [state.role_member_count(r) for r in (ROLE_1, ROLE_2, ROLE_3)] == [5000, 5000, 5000]
    assert state.bot_member_count == 10_001
    assert peak < 1_000_000


def test_member_json_equals_member_payload() -> None:
    """Fast member JSON parses to member_payload: seeded humans and bots, changed and added members."""
    state = guild(members=300, role_members=100)
    state.set_member_role(member(7), ROLE_1, False)
    added = state.add_member(username="zoë", bot=True, roles=[ROLE_3])
    state.remove_member(member(150))
    state.add_member(member(150))
    uids = [*(member(i) for i in (0, 7, 99, 150, 199, 250, 299)), added, state.bot_user_id]
    assert [json.loads(payloads.member_json(state, u)) for u in uids] == [
        payloads.member_payload(state, u) for u in uids
    ]


def test_config_refuses_impossible_shares_and_counts() -> None:
    """bot_share outside 0..1 and negative role or boost settings are refused."""
    for bad in ({"bot_share": 1.5}, {"seeded_roles": -1}, {"role_members": -1}, {"boosts": -1}):
        with pytest.raises(ValueError, match="must be"):
            SandboxConfig(**bad).validate()


def test_permission_names_round_trip() -> None:
    """Discord's names map to their bits (any case) and back; an unknown name is refused by name."""
    mask = permission_mask(["MANAGE_CHANNELS", "view_channel"])
    assert (mask, permission_names(mask)) == ((1 << 4) | (1 << 10), ["MANAGE_CHANNELS", "VIEW_CHANNEL"])
    with pytest.raises(ValueError, match="'FLY'"):
        permission_mask(["FLY"])
