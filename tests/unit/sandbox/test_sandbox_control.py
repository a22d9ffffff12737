"""The control HTTP API: a thin layer over the in-process scenario methods."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from src.sandbox import Sandbox
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import GatewayClient, RestClient, until

GUILDS, MODERATION = 1 << 0, 1 << 2


async def control(
    session: aiohttp.ClientSession, sandbox: Sandbox, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    """Call the control API and return (status, JSON body)."""
    async with session.request(method, sandbox.control_url + path, json=body) as resp:
        return resp.status, await resp.json()


async def test_info_matches_facade(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """GET /info returns Sandbox.info()."""
    status, body = await control(session, sandbox, "GET", "/info")
    assert (status, body["rest_url"], body["token"]) == (200, sandbox.rest_url, sandbox.config.token)


async def test_post_member_adds(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /members adds a member and returns its id."""
    status, body = await control(session, sandbox, "POST", "/members", {"username": "zoe"})
    assert (status, sandbox.member_count, body["id"] in sandbox.state.members) == (201, 52, True)


async def test_delete_member_removes(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """DELETE /members/{id} removes the member."""
    uid = await sandbox.add_member()
    status, _ = await control(session, sandbox, "DELETE", f"/members/{uid}")
    assert (status, sandbox.member_count) == (200, 51)


async def test_delete_unknown_member_is_404(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Removing someone who is not a member answers 404."""
    status, body = await control(session, sandbox, "DELETE", "/members/5")
    assert status == 404
    assert "error" in body


async def test_ban_and_unban(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST then DELETE /bans/{id} moves ban_count up and down."""
    await control(session, sandbox, "POST", "/bans/42")
    banned = sandbox.ban_count
    await control(session, sandbox, "DELETE", "/bans/42")
    assert (banned, sandbox.ban_count) == (2501, 2500)


async def test_ban_member_removes_them(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Banning a member also removes them by default."""
    uid = await sandbox.add_member()
    await control(session, sandbox, "POST", f"/bans/{uid}", {})
    assert uid not in sandbox.state.members


async def test_set_online(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /online changes the presence count."""
    status, body = await control(session, sandbox, "POST", "/online", {"count": 7})
    assert (status, body["online_count"], sandbox.online_count) == (200, 7, 7)


async def test_bad_body_is_400(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """A missing field answers 400 instead of failing."""
    status, _ = await control(session, sandbox, "POST", "/online", {})
    assert status == 400


async def test_fault_via_control(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /faults injects a fault that REST then answers."""
    await control(session, sandbox, "POST", "/faults", {"pattern": "@me", "status": 502, "count": 1})
    headers = {"Authorization": f"Bot {sandbox.config.token}"}
    async with session.get(sandbox.rest_url + "/users/@me", headers=headers) as resp:
        assert resp.status == 502


async def test_journal_lists_requests_and_counts(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """GET /journal includes REST requests, counts and channel names."""
    async with session.get(sandbox.rest_url + "/users/@me"):
        pass
    _, body = await control(session, sandbox, "GET", "/journal")
    assert body["requests"][0]["status"] == 401
    assert body["member_count"] == 51
    assert body["channel_names"][str(sandbox.channel_ids["members"])] == "Members"


async def test_channel_permissions_via_control(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /channels/{id}/permissions denies the bot."""
    channel_id = sandbox.channel_ids["stats"]
    await control(session, sandbox, "POST", f"/channels/{channel_id}/permissions", {"send_messages": False})
    channel = sandbox.state.channel(channel_id)
    assert not sandbox.state.bot_permissions(channel) & (1 << 11)


async def test_delete_channel_via_control(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """DELETE /channels/{id} deletes it."""
    channel_id = sandbox.channel_ids["online"]
    await control(session, sandbox, "DELETE", f"/channels/{channel_id}")
    assert channel_id not in sandbox.state.channels


async def test_replay_via_control(
    session: aiohttp.ClientSession, sandbox: Sandbox, gateway: GatewayClient
) -> None:
    """POST /gateway/replay re-sends the last dispatches and says how many."""
    await gateway.identify(sandbox.config.token, GUILDS | MODERATION)
    await gateway.recv_until("GUILD_CREATE")
    await sandbox.ban(424242)
    original = await gateway.recv_until("GUILD_BAN_ADD")
    status, body = await control(session, sandbox, "POST", "/gateway/replay", {"count": 1})
    replayed = await gateway.recv_until("GUILD_BAN_ADD")
    assert (status, body, replayed["d"]) == (200, {"ok": True, "replayed": 1}, original["d"])


async def test_replay_events_must_be_names(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """`events` that is not a list of names answers 400."""
    status, body = await control(session, sandbox, "POST", "/gateway/replay", {"count": 1, "events": "X"})
    assert (status, "error" in body) == (400, True)


async def test_delay_via_control(
    session: aiohttp.ClientSession, sandbox: Sandbox, api: RestClient, clock: ManualClock
) -> None:
    """POST /delays holds back the matching REST answer until the sandbox clock has moved on."""
    status, _ = await control(
        session, sandbox, "POST", "/delays", {"pattern": "@me", "seconds": 5, "count": 1}
    )
    answer = asyncio.create_task(api.call("GET", "/users/@me"))
    await until(lambda: clock.pending_sleepers == 1)
    await clock.advance(5)
    assert (status, (await asyncio.wait_for(answer, 3)).status) == (200, 200)


async def test_delete_delays_via_control(
    session: aiohttp.ClientSession, sandbox: Sandbox, api: RestClient
) -> None:
    """DELETE /delays removes every delay: the answer comes at once."""
    await control(session, sandbox, "POST", "/delays", {"pattern": ".*", "seconds": 5})
    status, _ = await control(session, sandbox, "DELETE", "/delays")
    answer = await asyncio.wait_for(api.call("GET", "/users/@me"), 3)
    assert (status, answer.status) == (200, 200)


async def test_delay_without_seconds_is_400(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """POST /delays needs `seconds`."""
    status, body = await control(session, sandbox, "POST", "/delays", {"pattern": ".*"})
    assert (status, "seconds" in body["error"]) == (400, True)
