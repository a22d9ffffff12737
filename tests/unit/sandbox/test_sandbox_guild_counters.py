"""Roles, role member counts, boosts and the bot's server-wide permissions: REST, control and dispatches."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig
from src.sandbox.ids import SEEDED_MEMBERS_START, seeded_role_id
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import GatewayClient, RestClient

GUILDS, MEMBERS, MODERATION = 1 << 0, 1 << 1, 1 << 2
MANAGE_CHANNELS, MANAGE_ROLES, VIEW_CHANNEL = 1 << 4, 1 << 28, 1 << 10
ROLE_1, ROLE_2 = seeded_role_id(1), seeded_role_id(2)
TOKEN = SandboxConfig().token


async def control(
    session: aiohttp.ClientSession, sandbox: Sandbox, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """Call the control API and return (status, JSON body)."""
    async with session.request(method, sandbox.control_url + path, json=body) as resp:
        return resp.status, await resp.json()


async def guild_create(gateway: GatewayClient, intents: int = GUILDS | MEMBERS) -> dict[str, Any]:
    """IDENTIFY and return GUILD_CREATE's data."""
    await gateway.identify(TOKEN, intents)
    return dict((await gateway.recv_until("GUILD_CREATE"))["d"])


async def dispatch_names_until_marker(gateway: GatewayClient, sandbox: Sandbox) -> list[str]:
    """The dispatch names received before a ban of a marker id (every session here gets bans)."""
    await sandbox.ban(424242)
    names: list[str] = []
    while (frame := await gateway.recv()) is not None:
        if frame.get("t") == "GUILD_BAN_ADD":
            return names
        if frame.get("op") == 0:
            names.append(str(frame["t"]))
    raise AssertionError(f"socket closed before the marker; got {names}")


# --- roles in payloads ------------------------------------------------------------------------------------


async def test_roles_route_lists_seeded_roles(api: RestClient, sandbox: Sandbox) -> None:
    """GET /guilds/{id}/roles lists @everyone, the bot's role and Role 1..3 with their ids."""
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/roles")
    names = {r["name"]: r["id"] for r in answer.body}
    assert names == {name: str(role_id) for name, role_id in sandbox.role_ids.items()}
    assert names["Role 1"] == str(ROLE_1)


async def test_guild_create_carries_roles_and_boosts(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    """GUILD_CREATE has every role, premium_subscription_count and the tier the count gives."""
    async with Sandbox(SandboxConfig(members=10, boosts=7), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url)
        await client.recv()
        guild = await guild_create(client)
        await client.ws.close()
    assert {r["name"] for r in guild["roles"]} == {"@everyone", "StatsBot", "Role 1", "Role 2", "Role 3"}
    assert (guild["premium_subscription_count"], guild["premium_tier"]) == (7, 2)


async def test_role_member_counts_route(api: RestClient, sandbox: Sandbox) -> None:
    """GET /guilds/{id}/roles/member-counts maps every role but @everyone to its holders."""
    await sandbox.add_member(username="helper", roles=[ROLE_2])
    answer = await api.call("GET", f"/guilds/{sandbox.guild_id}/roles/member-counts")
    assert answer.status == 200
    assert answer.body == {
        str(sandbox.state.bot_role_id): 1,
        str(ROLE_1): 50,
        str(ROLE_2): 51,
        str(seeded_role_id(3)): 50,
    }


async def test_role_member_counts_of_unknown_guild_is_10004(api: RestClient) -> None:
    """Another guild's role counts are Unknown Guild."""
    answer = await api.call("GET", "/guilds/123/roles/member-counts")
    assert (answer.status, answer.body["code"]) == (404, 10004)


async def test_chunk_members_carry_bot_flag_and_roles(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    """A user-ids op 8 answer shows a seeded bot as a bot and lists each member's roles."""
    async with Sandbox(SandboxConfig(members=200, role_members=100), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url)
        await client.recv()
        await guild_create(client)
        wanted = [str(SEEDED_MEMBERS_START), str(SEEDED_MEMBERS_START + 199)]
        await client.send(8, {"guild_id": str(sb.guild_id), "user_ids": wanted})
        chunk = (await client.recv_until("GUILD_MEMBERS_CHUNK"))["d"]
        await client.ws.close()
    human, bot = chunk["members"]
    assert (human["user"].get("bot", False), human["roles"]) == (False, [str(ROLE_1), str(seeded_role_id(3))])
    assert (bot["user"]["bot"], bot["roles"]) == (True, [str(seeded_role_id(3))])


# --- member roles over the control port ---------------------------------------------------------------------


async def test_giving_a_role_dispatches_the_full_member(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """POST /members/{id}/roles/{role} sends GUILD_MEMBER_UPDATE with guild_id, user, roles and joined_at."""
    await guild_create(gateway)
    uid = await sandbox.add_member(username="zoe")
    status, body = await control(session, sandbox, "POST", f"/members/{uid}/roles/{ROLE_1}")
    event = (await gateway.recv_until("GUILD_MEMBER_UPDATE"))["d"]
    assert (status, body) == (200, {"ok": True, "changed": True})
    assert (event["guild_id"], event["user"]["id"], event["roles"]) == (
        str(sandbox.guild_id),
        str(uid),
        [str(ROLE_1)],
    )
    assert {"joined_at", "nick", "flags", "pending", "deaf", "mute", "premium_since"} <= set(event)
    assert sandbox.role_member_count(ROLE_1) == 51


async def test_taking_a_role_dispatches_and_counts(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """DELETE /members/{id}/roles/{role} takes a seeded role: the event lists the roles left."""
    await guild_create(gateway)
    status, _ = await control(session, sandbox, "DELETE", f"/members/{SEEDED_MEMBERS_START}/roles/{ROLE_1}")
    event = (await gateway.recv_until("GUILD_MEMBER_UPDATE"))["d"]
    assert status == 200
    assert str(ROLE_1) not in event["roles"]
    assert sandbox.role_member_count(ROLE_1) == 49


async def test_member_update_needs_the_members_intent(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """A session without GUILD_MEMBERS gets no GUILD_MEMBER_UPDATE, as on Discord."""
    await guild_create(gateway, GUILDS | MODERATION)
    path = f"/members/{SEEDED_MEMBERS_START}/roles/{ROLE_1}"
    taken, _ = await control(session, sandbox, "DELETE", path)
    given, _ = await control(session, sandbox, "POST", path)
    assert (taken, given) == (200, 200)
    assert await dispatch_names_until_marker(gateway, sandbox) == []


async def test_giving_a_held_role_changes_nothing(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """Giving a role the member holds answers changed=false and dispatches nothing."""
    await guild_create(gateway, GUILDS | MEMBERS | MODERATION)
    _, body = await control(session, sandbox, "POST", f"/members/{SEEDED_MEMBERS_START}/roles/{ROLE_1}")
    assert (body["changed"], await dispatch_names_until_marker(gateway, sandbox)) == (False, [])


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/members/5/roles/{role}", 404),  # not a member
        ("/members/{member}/roles/5", 404),  # no such role
        ("/members/{member}/roles/{bot_role}", 400),  # managed
    ],
)
async def test_member_role_errors(
    session: aiohttp.ClientSession, sandbox: Sandbox, path: str, status: int
) -> None:
    """Unknown member or role answers 404; the bot's managed role 400."""
    url = path.format(role=ROLE_1, member=SEEDED_MEMBERS_START, bot_role=sandbox.state.bot_role_id)
    answer_status, body = await control(session, sandbox, "POST", url)
    assert (answer_status, "error" in body) == (status, True)


async def test_member_joins_with_roles_via_control(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /members with `roles` and `bot` adds a bot holding the role."""
    status, body = await control(session, sandbox, "POST", "/members", {"bot": True, "roles": [str(ROLE_2)]})
    assert status == 201
    assert sandbox.state.member_roles(body["id"]) == [ROLE_2]
    assert sandbox.state.user(body["id"]).bot is True


# --- creating and deleting roles ----------------------------------------------------------------------------


async def test_create_role_dispatches_role_create(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """POST /roles answers 201 with the id and sends GUILD_ROLE_CREATE with the role object."""
    await guild_create(gateway)
    status, body = await control(
        session, sandbox, "POST", "/roles", {"name": "Helpers", "permissions": ["CONNECT"]}
    )
    event = (await gateway.recv_until("GUILD_ROLE_CREATE"))["d"]
    assert status == 201
    assert (event["guild_id"], event["role"]["id"], event["role"]["name"]) == (
        str(sandbox.guild_id),
        str(body["id"]),
        "Helpers",
    )
    assert event["role"]["permissions"] == str(1 << 20)
    assert sandbox.role_member_count(body["id"]) == 0


async def test_delete_role_dispatches_and_members_lose_it(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient, api: RestClient
) -> None:
    """DELETE /roles/{id} sends GUILD_ROLE_DELETE; the role leaves the counts and the members' roles."""
    await guild_create(gateway)
    status, _ = await control(session, sandbox, "DELETE", f"/roles/{ROLE_1}")
    event = (await gateway.recv_until("GUILD_ROLE_DELETE"))["d"]
    counts = (await api.call("GET", f"/guilds/{sandbox.guild_id}/roles/member-counts")).body
    member = (await api.call("GET", f"/guilds/{sandbox.guild_id}/members/{SEEDED_MEMBERS_START}")).body
    assert (status, event) == (200, {"guild_id": str(sandbox.guild_id), "role_id": str(ROLE_1)})
    assert str(ROLE_1) not in counts
    assert str(ROLE_1) not in member["roles"]


async def test_role_without_name_is_400(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /roles needs a name; an unknown permission name is 400 too."""
    no_name, _ = await control(session, sandbox, "POST", "/roles", {})
    bad_perm, body = await control(session, sandbox, "POST", "/roles", {"name": "x", "permissions": ["FLY"]})
    assert (no_name, bad_perm, "FLY" in body["error"]) == (400, 400, True)


async def test_deleting_the_bot_role_is_refused(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """The managed role cannot be deleted by hand (400)."""
    status, _ = await control(session, sandbox, "DELETE", f"/roles/{sandbox.state.bot_role_id}")
    assert status == 400


# --- boosts ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "tier"), [(0, 0), (1, 0), (2, 1), (6, 1), (7, 2), (13, 2), (14, 3), (99, 3)]
)
async def test_boosts_set_count_and_tier(
    session: aiohttp.ClientSession, sandbox: Sandbox, api: RestClient, count: int, tier: int
) -> None:
    """POST /boosts sets premium_subscription_count; the tier follows Discord's 2/7/14 thresholds."""
    status, body = await control(session, sandbox, "POST", "/boosts", {"count": count})
    guild = (await api.call("GET", f"/guilds/{sandbox.guild_id}")).body
    assert (status, body["premium_tier"]) == (200, tier)
    assert (guild["premium_subscription_count"], guild["premium_tier"]) == (count, tier)


async def test_boosts_dispatch_guild_update(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """Changing the boost count sends GUILD_UPDATE with the guild object."""
    await guild_create(gateway)
    await control(session, sandbox, "POST", "/boosts", {"count": 3})
    event = (await gateway.recv_until("GUILD_UPDATE"))["d"]
    assert (event["id"], event["premium_subscription_count"], event["premium_tier"]) == (
        str(sandbox.guild_id),
        3,
        1,
    )


async def test_negative_boosts_are_400(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A negative count is refused."""
    status, _ = await control(session, sandbox, "POST", "/boosts", {"count": -1})
    assert status == 400


# --- the bot's server-wide permissions ----------------------------------------------------------------------


async def test_denying_manage_channels_updates_the_bot_role(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient, api: RestClient
) -> None:
    """POST /guild/bot-permissions {deny} sends GUILD_ROLE_UPDATE; the role payload and bot perms follow."""
    await guild_create(gateway)
    status, body = await control(
        session, sandbox, "POST", "/guild/bot-permissions", {"deny": ["MANAGE_CHANNELS"]}
    )
    event = (await gateway.recv_until("GUILD_ROLE_UPDATE"))["d"]
    roles = (await api.call("GET", f"/guilds/{sandbox.guild_id}/roles")).body
    bot_role = next(r for r in roles if r["id"] == str(sandbox.state.bot_role_id))
    assert status == 200
    assert "MANAGE_CHANNELS" not in body["permissions"]
    assert event["role"]["id"] == bot_role["id"]
    assert not int(event["role"]["permissions"]) & MANAGE_CHANNELS
    assert not int(bot_role["permissions"]) & MANAGE_CHANNELS
    assert not sandbox.state.bot_guild_permissions() & MANAGE_CHANNELS


async def test_bot_permissions_restart_from_the_default(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """Each call starts from the invite's permissions: `{}` restores them, `allow` adds Manage Roles."""
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"deny": ["MANAGE_CHANNELS"]})
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"allow": ["manage_roles"]})
    perms = sandbox.state.bot_guild_permissions()
    assert (bool(perms & MANAGE_CHANNELS), bool(perms & MANAGE_ROLES)) == (True, True)


async def test_everyone_grants_survive_a_bot_role_deny(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """Denying View Channels to the bot's role leaves it, since @everyone grants it (as on Discord)."""
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"deny": ["VIEW_CHANNEL"]})
    assert sandbox.state.bot_guild_permissions() & VIEW_CHANNEL


async def test_unknown_permission_name_is_400(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """An unknown name, or a string instead of a list, is 400."""
    unknown, _ = await control(session, sandbox, "POST", "/guild/bot-permissions", {"deny": ["FLY"]})
    not_list, _ = await control(
        session, sandbox, "POST", "/guild/bot-permissions", {"deny": "MANAGE_CHANNELS"}
    )
    assert (unknown, not_list) == (400, 400)


# --- /state ------------------------------------------------------------------------------------------------


async def test_state_shows_roles_boosts_and_channels(
    session: aiohttp.ClientSession, sandbox: Sandbox
) -> None:
    """GET /state lists roles with member counts, boosts, the bot count and each channel's type and parent."""
    await sandbox.set_boosts(2)
    _, body = await control(session, sandbox, "GET", "/state")
    roles = {r["name"]: r["member_count"] for r in body["roles"]}
    members = body["channels"][str(sandbox.channel_ids["members"])]
    assert roles == {"@everyone": 51, "StatsBot": 1, "Role 1": 50, "Role 2": 50, "Role 3": 50}
    assert (body["boosts"], body["premium_tier"], body["bot_member_count"]) == (2, 1, 1)
    assert members == {"name": "Members", "type": 2, "parent_id": None}
    assert "MANAGE_CHANNELS" in body["bot_permissions"]
