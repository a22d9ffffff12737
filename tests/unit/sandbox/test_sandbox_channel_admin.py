"""Creating and deleting channels and editing overwrites over REST, with Discord's permission rules."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.unit.sandbox.conftest import GatewayClient, RestClient

GUILDS = 1 << 0
VIEW_CHANNEL, MANAGE_CHANNELS, CONNECT, MANAGE_ROLES, KICK_MEMBERS = 1 << 10, 1 << 4, 1 << 20, 1 << 28, 1 << 1
TOKEN = SandboxConfig().token
COUNTER_ALLOW = VIEW_CHANNEL | CONNECT | MANAGE_CHANNELS


async def control(
    session: aiohttp.ClientSession, sandbox: Sandbox, method: str, path: str, body: Any = None
) -> int:
    """Call the control API and return its status."""
    async with session.request(method, sandbox.control_url + path, json=body) as resp:
        return resp.status


async def identified(gateway: GatewayClient) -> None:
    """IDENTIFY with GUILDS and wait for GUILD_CREATE."""
    await gateway.identify(TOKEN, GUILDS)
    await gateway.recv_until("GUILD_CREATE")


def counters_setup(sandbox: Sandbox) -> list[dict[str, Any]]:
    """What a counter bot sets on a voice channel: nobody may connect, the bot's role may manage it."""
    return [
        {"id": str(sandbox.guild_id), "type": 0, "deny": str(CONNECT)},
        {"id": sandbox.state.bot_role_id, "type": 0, "allow": COUNTER_ALLOW, "deny": None},
    ]


async def create(api: RestClient, sandbox: Sandbox, **body: Any) -> Any:
    """POST /guilds/{id}/channels with `body`."""
    return await api.call("POST", f"/guilds/{sandbox.guild_id}/channels", json_body=body)


# --- creating ---------------------------------------------------------------------------------------------


async def test_create_category_then_voice_channel_inside(
    api: RestClient, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """A category (type 4) and a voice channel under it: 201 each, CHANNEL_CREATE each, parent_id set."""
    await identified(gateway)
    category = await create(api, sandbox, name="Server Stats", type=4)
    voice = await create(
        api,
        sandbox,
        name="Members: 51",
        type=2,
        parent_id=category.body["id"],
        permission_overwrites=counters_setup(sandbox),
    )
    created = [(await gateway.recv_until("CHANNEL_CREATE"))["d"] for _ in range(2)]
    assert (category.status, voice.status) == (201, 201)
    assert (category.body["type"], category.body["parent_id"], category.body["name"]) == (
        4,
        None,
        "Server Stats",
    )
    assert (voice.body["name"], voice.body["parent_id"], voice.body["bitrate"]) == (
        "Members: 51",
        category.body["id"],
        64000,
    )
    assert [c["id"] for c in created] == [category.body["id"], voice.body["id"]]
    assert {"id": str(sandbox.guild_id), "type": 0, "allow": "0", "deny": str(CONNECT)} in voice.body[
        "permission_overwrites"
    ]
    assert sandbox.state.channel(int(voice.body["id"])).parent_id == int(category.body["id"])


async def test_category_payload_has_no_text_fields(api: RestClient, sandbox: Sandbox) -> None:
    """A category carries neither a topic nor bitrate nor last_message_id."""
    category = (await create(api, sandbox, name="Stats", type=4)).body
    assert not {"topic", "bitrate", "user_limit", "last_message_id"} & set(category)


async def test_text_channel_name_is_normalised(api: RestClient, sandbox: Sandbox) -> None:
    """The type defaults to text, whose name is lower-cased and hyphenated like a rename."""
    answer = await create(api, sandbox, name="Daily Stats!")
    assert (answer.status, answer.body["type"], answer.body["name"]) == (201, 0, "daily-stats")


async def test_new_channel_is_in_the_guild_listing(api: RestClient, sandbox: Sandbox) -> None:
    """GET /guilds/{id}/channels and GET /channels/{id} know the new channel."""
    created = (await create(api, sandbox, name="Boosts: 0", type=2)).body
    listed = (await api.call("GET", f"/guilds/{sandbox.guild_id}/channels")).body
    fetched = await api.call("GET", f"/channels/{created['id']}")
    assert created["id"] in [c["id"] for c in listed]
    assert (fetched.status, fetched.body) == (200, created)


async def test_create_needs_manage_channels_at_server_level(
    session: aiohttp.ClientSession, api: RestClient, sandbox: Sandbox
) -> None:
    """No Manage Channels on the bot's role: 403 50013, though counter channels' overwrites grant it."""
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"deny": ["MANAGE_CHANNELS"]})
    answer = await create(api, sandbox, name="Stats", type=4)
    channel = sandbox.state.channel(sandbox.channel_ids["members"])
    assert (answer.status, answer.body) == (403, {"message": "Missing Permissions", "code": 50013})
    assert sandbox.state.bot_permissions(channel) & MANAGE_CHANNELS


@pytest.mark.parametrize("name", ["", "x" * 101])
async def test_create_name_length_is_400(api: RestClient, sandbox: Sandbox, name: str) -> None:
    """Names must be 1-100 characters: Discord's Invalid Form Body naming the field."""
    answer = await create(api, sandbox, name=name, type=2)
    assert (answer.status, answer.body["code"], answer.body["errors"]["name"]["_errors"][0]["code"]) == (
        400,
        50035,
        "BASE_TYPE_BAD_LENGTH",
    )


async def test_create_without_name_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """The name is required."""
    answer = await create(api, sandbox, type=2)
    assert (answer.status, answer.body["errors"]["name"]["_errors"][0]["code"]) == (400, "BASE_TYPE_REQUIRED")


async def test_create_unknown_type_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """Only text, voice and category channels are modelled."""
    answer = await create(api, sandbox, name="x", type=13)
    assert (answer.status, "type" in answer.body["errors"]) == (400, True)


async def test_parent_must_be_a_category(api: RestClient, sandbox: Sandbox) -> None:
    """A voice channel as parent, or a category inside a category, is 400."""
    category = (await create(api, sandbox, name="Stats", type=4)).body
    under_voice = await create(api, sandbox, name="x", type=2, parent_id=str(sandbox.channel_ids["members"]))
    nested = await create(api, sandbox, name="y", type=4, parent_id=category["id"])
    assert [under_voice.status, nested.status] == [400, 400]
    assert "parent_id" in nested.body["errors"]


async def test_malformed_overwrite_is_400_by_index(api: RestClient, sandbox: Sandbox) -> None:
    """A bad overwrite is named by its index and field."""
    overwrites = [{"id": str(sandbox.guild_id), "type": 0}, {"id": "x", "type": 5, "allow": "lots"}]
    answer = await create(api, sandbox, name="x", type=2, permission_overwrites=overwrites)
    assert answer.status == 400
    assert set(answer.body["errors"]["permission_overwrites"]["1"]) == {"id", "type", "allow"}


async def test_overwrite_granting_what_the_bot_lacks_is_403(api: RestClient, sandbox: Sandbox) -> None:
    """Allowing Kick Members, which the bot does not have, is Missing Permissions."""
    overwrites = [{"id": str(sandbox.guild_id), "type": 0, "allow": str(KICK_MEMBERS)}]
    answer = await create(api, sandbox, name="x", type=2, permission_overwrites=overwrites)
    assert (answer.status, answer.body["code"]) == (403, 50013)


async def test_manage_roles_in_overwrites_needs_an_administrator(
    session: aiohttp.ClientSession, api: RestClient, sandbox: Sandbox
) -> None:
    """Even with Manage Roles, only an administrator may put it in a new channel's overwrites."""
    overwrites = [{"id": str(sandbox.state.bot_role_id), "type": 0, "allow": str(MANAGE_ROLES)}]
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"allow": ["MANAGE_ROLES"]})
    refused = await create(api, sandbox, name="x", type=2, permission_overwrites=overwrites)
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"allow": ["ADMINISTRATOR"]})
    allowed = await create(api, sandbox, name="x", type=2, permission_overwrites=overwrites)
    assert (refused.status, allowed.status) == (403, 201)


async def test_channel_limit_is_500(api: RestClient, sandbox: Sandbox) -> None:
    """The 501st channel is refused with 30013."""
    for index in range(500 - len(sandbox.state.channels)):
        sandbox.state.create_channel(f"c{index}", 0)
    answer = await create(api, sandbox, name="one too many")
    assert (answer.status, answer.body["code"]) == (400, 30013)


# --- deleting ---------------------------------------------------------------------------------------------


async def test_delete_channel_answers_it_and_dispatches(
    api: RestClient, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """DELETE /channels/{id}: 200 with the channel, CHANNEL_DELETE, then 404 for it."""
    await identified(gateway)
    created = (await create(api, sandbox, name="Old", type=2)).body
    deleted = await api.call("DELETE", f"/channels/{created['id']}")
    event = (await gateway.recv_until("CHANNEL_DELETE"))["d"]
    again = await api.call("GET", f"/channels/{created['id']}")
    assert (deleted.status, deleted.body["id"], event["id"]) == (200, created["id"], created["id"])
    assert (again.status, again.body["code"]) == (404, 10003)


async def test_deleting_a_category_orphans_its_channels(
    api: RestClient, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """The category's channels stay, without a parent, each announced by CHANNEL_UPDATE."""
    await identified(gateway)
    category = (await create(api, sandbox, name="Stats", type=4)).body
    child = (await create(api, sandbox, name="Members", type=2, parent_id=category["id"])).body
    await api.call("DELETE", f"/channels/{category['id']}")
    update = (await gateway.recv_until("CHANNEL_UPDATE"))["d"]
    assert (update["id"], update["parent_id"]) == (child["id"], None)
    assert sandbox.state.channel(int(child["id"])).parent_id is None


async def test_delete_needs_manage_channels_in_the_channel(api: RestClient, sandbox: Sandbox) -> None:
    """Denied Manage Channels on the channel itself: 403 50013."""
    sandbox.set_channel_permissions(sandbox.channel_ids["online"], manage_channels=False)
    answer = await api.call("DELETE", f"/channels/{sandbox.channel_ids['online']}")
    assert (answer.status, answer.body["code"]) == (403, 50013)


async def test_control_delete_dispatches_channel_delete(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """The control port's DELETE /channels/{id} sends CHANNEL_DELETE too."""
    await identified(gateway)
    status = await control(session, sandbox, "DELETE", f"/channels/{sandbox.channel_ids['bans']}")
    event = (await gateway.recv_until("CHANNEL_DELETE"))["d"]
    assert (status, event["id"]) == (200, str(sandbox.channel_ids["bans"]))


# --- overwrites -------------------------------------------------------------------------------------------


async def test_put_overwrite_needs_manage_roles(api: RestClient, sandbox: Sandbox) -> None:
    """The invite's permissions lack Manage Roles (Discord's Manage Permissions): 403 50013."""
    path = f"/channels/{sandbox.channel_ids['members']}/permissions/{sandbox.guild_id}"
    answer = await api.call("PUT", path, json_body={"type": 0, "deny": str(CONNECT)})
    assert (answer.status, answer.body["code"]) == (403, 50013)


async def test_put_overwrite_with_manage_roles(
    session: aiohttp.ClientSession, api: RestClient, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """With Manage Roles: 204, CHANNEL_UPDATE, and the overwrite replaces the one for the same target."""
    await identified(gateway)
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"allow": ["MANAGE_ROLES"]})
    path = f"/channels/{sandbox.channel_ids['members']}/permissions/{sandbox.guild_id}"
    answer = await api.call("PUT", path, json_body={"type": 0, "allow": "0", "deny": VIEW_CHANNEL | CONNECT})
    event = (await gateway.recv_until("CHANNEL_UPDATE"))["d"]
    everyone = [o for o in event["permission_overwrites"] if o["id"] == str(sandbox.guild_id)]
    assert (answer.status, answer.raw) == (204, b"")
    assert everyone == [
        {"id": str(sandbox.guild_id), "type": 0, "allow": "0", "deny": str(VIEW_CHANNEL | CONNECT)}
    ]


async def test_put_overwrite_cannot_grant_what_the_bot_lacks(
    session: aiohttp.ClientSession, api: RestClient, sandbox: Sandbox
) -> None:
    """Allowing Kick Members, which the bot lacks, is 403 even with Manage Roles."""
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"allow": ["MANAGE_ROLES"]})
    path = f"/channels/{sandbox.channel_ids['members']}/permissions/{sandbox.guild_id}"
    answer = await api.call("PUT", path, json_body={"type": 0, "allow": str(KICK_MEMBERS)})
    assert (answer.status, answer.body["code"]) == (403, 50013)


async def test_put_overwrite_without_type_is_400(
    session: aiohttp.ClientSession, api: RestClient, sandbox: Sandbox
) -> None:
    """The body needs type 0 (role) or 1 (member)."""
    await control(session, sandbox, "POST", "/guild/bot-permissions", {"allow": ["MANAGE_ROLES"]})
    path = f"/channels/{sandbox.channel_ids['members']}/permissions/{sandbox.guild_id}"
    answer = await api.call("PUT", path, json_body={"deny": "0"})
    assert (answer.status, "type" in answer.body["errors"]) == (400, True)


async def test_patch_overwrites_need_manage_roles(api: RestClient, sandbox: Sandbox) -> None:
    """Replacing overwrites with PATCH needs Manage Roles as PUT does."""
    path = f"/channels/{sandbox.channel_ids['members']}"
    answer = await api.call("PATCH", path, json_body={"permission_overwrites": []})
    assert (answer.status, answer.body["code"]) == (403, 50013)


async def test_patch_moves_a_channel_into_a_category(api: RestClient, sandbox: Sandbox) -> None:
    """PATCH parent_id puts a channel under a category; null takes it out."""
    category = (await create(api, sandbox, name="Stats", type=4)).body
    path = f"/channels/{sandbox.channel_ids['members']}"
    moved = (await api.call("PATCH", path, json_body={"parent_id": category["id"]})).body
    back = (await api.call("PATCH", path, json_body={"parent_id": None})).body
    assert (moved["parent_id"], back["parent_id"]) == (category["id"], None)


async def test_guild_create_lists_created_channels_with_parents(
    api: RestClient, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """A session identifying later sees the category and its channel, parent_id included."""
    category = (await create(api, sandbox, name="Stats", type=4)).body
    voice = (await create(api, sandbox, name="Bots: 1", type=2, parent_id=category["id"])).body
    await gateway.identify(TOKEN, GUILDS)
    channels = {c["id"]: c for c in (await gateway.recv_until("GUILD_CREATE"))["d"]["channels"]}
    assert (channels[category["id"]]["type"], channels[voice["id"]]["parent_id"]) == (4, category["id"])
