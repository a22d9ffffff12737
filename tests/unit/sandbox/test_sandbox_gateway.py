"""The gateway protocol over a raw websocket: HELLO, IDENTIFY, dispatch filtering, RESUME, close codes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import ZLIB_SUFFIX, GatewayClient, RestClient

GUILDS, MEMBERS, MODERATION, PRESENCES, GUILD_MESSAGES = 1 << 0, 1 << 1, 1 << 2, 1 << 8, 1 << 9
TOKEN = SandboxConfig().token


async def identified(gateway: GatewayClient, intents: int = GUILDS | MEMBERS | MODERATION) -> dict[str, Any]:
    """IDENTIFY and return READY's data after GUILD_CREATE arrived."""
    await gateway.identify(TOKEN, intents)
    ready = await gateway.recv_until("READY")
    await gateway.recv_until("GUILD_CREATE")
    return ready


async def test_hello_carries_heartbeat_interval(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """The first frame is op 10 with the configured heartbeat interval."""
    client = await GatewayClient.connect(session, sandbox.gateway_url)
    hello = await client.recv()
    await client.ws.close()
    assert hello == {"op": 10, "d": {"heartbeat_interval": 41250}, "s": None, "t": None}


async def test_heartbeat_is_acked(gateway: GatewayClient) -> None:
    """Op 1 is answered with op 11."""
    await gateway.send(1, None)
    ack = await gateway.recv()
    assert ack is not None
    assert ack["op"] == 11


async def test_every_heartbeat_gets_one_ack_in_order(gateway: GatewayClient) -> None:
    """Three quick heartbeats get exactly three ACKs, before anything sent after them."""
    for _ in range(3):
        await gateway.send(1, None)
    acks = [await gateway.recv() for _ in range(3)]
    await gateway.identify(TOKEN, GUILDS)
    after = await gateway.recv()
    assert [a["op"] if a else None for a in acks] == [11, 11, 11]
    assert after is not None
    assert after["t"] == "READY"


async def test_heartbeat_ack_takes_a_round_trip(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    """The ACK arrives no sooner than the configured round trip, as Discord's would over a network."""
    async with Sandbox(SandboxConfig(heartbeat_ack_delay=0.05), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url)
        await client.recv()
        loop = asyncio.get_running_loop()
        sent = loop.time()
        await client.send(1, None)
        ack = await client.recv()
        elapsed = loop.time() - sent
        await client.ws.close()
    assert ack is not None
    assert ack["op"] == 11
    assert elapsed >= 0.05


async def test_zlib_stream_frames_end_with_sync_flush(gateway: GatewayClient) -> None:
    """With compress=zlib-stream every frame is binary and ends in 00 00 ff ff."""
    await identified(gateway)
    assert gateway.binary_frames
    assert all(frame.endswith(ZLIB_SUFFIX) for frame in gateway.binary_frames)


async def test_plain_text_without_compress(session: aiohttp.ClientSession, sandbox: Sandbox) -> None:
    """Without the compress query, frames are text."""
    client = await GatewayClient.connect(session, sandbox.gateway_url, compress=False)
    await client.recv()
    await client.ws.close()
    assert (client.text_frames, client.binary_frames) == (1, [])


async def test_identified_connection_is_counted(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """gateway_connections counts identified, open connections."""
    before = sandbox.gateway_connections
    await identified(gateway)
    assert (before, sandbox.gateway_connections) == (0, 1)


async def test_ready_has_resume_url_and_unavailable_guild(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """READY carries session_id, resume_gateway_url and the guild as unavailable."""
    ready = await identified(gateway)
    assert ready["d"]["resume_gateway_url"] == sandbox.gateway_url
    assert ready["d"]["guilds"] == [{"id": str(sandbox.guild_id), "unavailable": True}]
    assert ready["d"]["session_id"]


async def test_guild_create_has_exact_count_and_only_the_bot(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """GUILD_CREATE has the exact member_count but only the bot's own member."""
    await gateway.identify(TOKEN, GUILDS | MEMBERS)
    guild = (await gateway.recv_until("GUILD_CREATE"))["d"]
    assert guild["member_count"] == sandbox.member_count
    assert [m["user"]["id"] for m in guild["members"]] == [str(sandbox.bot_user_id)]


async def test_guild_create_channels_are_complete(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Channels carry position and overwrites; voice channels carry bitrate and user_limit."""
    await gateway.identify(TOKEN, GUILDS)
    channels = (await gateway.recv_until("GUILD_CREATE"))["d"]["channels"]
    voice = next(c for c in channels if c["id"] == str(sandbox.channel_ids["members"]))
    assert {"position", "permission_overwrites", "bitrate", "user_limit"} <= set(voice)


@pytest.mark.parametrize("members", [300])
async def test_large_guild_flag(session: aiohttp.ClientSession, clock: ManualClock, members: int) -> None:
    """A guild above 250 members is large."""
    async with Sandbox(SandboxConfig(members=members), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url)
        await client.recv()
        await client.identify(TOKEN, GUILDS, large_threshold=250)
        guild = (await client.recv_until("GUILD_CREATE"))["d"]
        await client.ws.close()
    assert guild["large"] is True


async def test_wrong_token_closes_4004(gateway: GatewayClient) -> None:
    """IDENTIFY with a wrong token is closed with 4004."""
    await gateway.identify("wrong", GUILDS)
    assert await gateway.wait_closed() == 4004


async def test_privileged_intents_disabled_closes_4014(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    """Asking GUILD_MEMBERS when privileged intents are off is closed with 4014."""
    async with Sandbox(SandboxConfig(privileged_intents_enabled=False), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url)
        await client.recv()
        await client.identify(TOKEN, GUILDS | MEMBERS)
        assert await client.wait_closed() == 4014


async def test_non_privileged_identify_works_when_disabled(
    session: aiohttp.ClientSession, clock: ManualClock
) -> None:
    """GUILDS | GUILD_MODERATION needs no privileged intent."""
    async with Sandbox(SandboxConfig(privileged_intents_enabled=False), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url)
        await client.recv()
        ready = await identified(client, GUILDS | MODERATION)
        await client.ws.close()
    assert ready["t"] == "READY"


async def test_presence_before_identify_closes_4003(gateway: GatewayClient) -> None:
    """Op 3 before IDENTIFY is Not authenticated."""
    await gateway.send(3, {"status": "online", "activities": [], "since": 0, "afk": False})
    assert await gateway.wait_closed() == 4003


async def test_unknown_opcode_closes_4001(gateway: GatewayClient) -> None:
    """An unknown opcode closes with 4001."""
    await gateway.send(42, None)
    assert await gateway.wait_closed() == 4001


async def test_member_add_dispatched_with_members_intent(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """GUILD_MEMBER_ADD reaches a session with GUILD_MEMBERS, with guild_id and the member."""
    await identified(gateway)
    uid = await sandbox.add_member(username="alice")
    event = (await gateway.recv_until("GUILD_MEMBER_ADD"))["d"]
    assert (event["guild_id"], event["user"]["id"], event["user"]["username"]) == (
        str(sandbox.guild_id),
        str(uid),
        "alice",
    )


async def test_member_events_need_members_intent(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Without GUILD_MEMBERS, a join is not sent (the following ban is)."""
    await identified(gateway, GUILDS | MODERATION)
    uid = await sandbox.add_member()
    await sandbox.ban(uid)
    names = []
    while (frame := await gateway.recv()) is not None and frame.get("t") != "GUILD_BAN_ADD":
        names.append(frame.get("t"))
    assert "GUILD_MEMBER_ADD" not in names


async def test_ban_precedes_member_remove(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Banning a member dispatches GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE."""
    await identified(gateway)
    uid = await sandbox.add_member()
    await sandbox.ban(uid)
    ban = await gateway.recv_until("GUILD_BAN_ADD")
    remove = await gateway.recv_until("GUILD_MEMBER_REMOVE")
    assert ban["s"] < remove["s"]
    assert remove["d"]["user"]["id"] == str(uid)


async def dispatches_until_marker(gateway: GatewayClient, sandbox: Sandbox) -> list[str]:
    """The dispatch names received before a marker join added now (the count then includes the marker)."""
    marker = await sandbox.add_member(username="marker")
    names: list[str] = []
    while (frame := await gateway.recv()) is not None:
        if frame.get("t") == "GUILD_MEMBER_ADD" and frame["d"]["user"]["id"] == str(marker):
            return names
        if frame.get("op") == 0:
            names.append(str(frame["t"]))
    raise AssertionError(f"socket closed before the marker; got {names}")


async def test_ban_of_a_non_member_is_only_a_ban(
    session: aiohttp.ClientSession, gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """Banning by id someone who is not a member sends GUILD_BAN_ADD alone and leaves the count as it was."""
    await identified(gateway)
    before = sandbox.member_count
    async with session.post(f"{sandbox.control_url}/bans/424242", json={}) as resp:
        assert resp.status == 200
    after = sandbox.member_count
    names = await dispatches_until_marker(gateway, sandbox)
    assert (names, after) == (["GUILD_BAN_ADD"], before)


async def test_ban_of_a_member_also_removes_them(
    session: aiohttp.ClientSession, gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """Banning a member sends GUILD_BAN_ADD then GUILD_MEMBER_REMOVE, and the count drops by one."""
    await identified(gateway)
    uid = await sandbox.add_member()
    await gateway.recv_until("GUILD_MEMBER_ADD")
    before = sandbox.member_count
    async with session.post(f"{sandbox.control_url}/bans/{uid}", json={}) as resp:
        assert resp.status == 200
    after = sandbox.member_count
    names = await dispatches_until_marker(gateway, sandbox)
    assert (names, after) == (["GUILD_BAN_ADD", "GUILD_MEMBER_REMOVE"], before - 1)


async def test_sequence_numbers_increase(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Dispatch sequence numbers increase by one."""
    ready = await identified(gateway)
    await sandbox.add_member()
    add = await gateway.recv_until("GUILD_MEMBER_ADD")
    assert (ready["s"], add["s"]) == (1, 3)


async def test_channel_update_dispatched_on_rename(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Permission changes are announced as CHANNEL_UPDATE with guild_id."""
    await identified(gateway)
    sandbox.set_channel_permissions(sandbox.channel_ids["stats"], send_messages=False)
    event = (await gateway.recv_until("CHANNEL_UPDATE"))["d"]
    assert (event["id"], event["guild_id"]) == (str(sandbox.channel_ids["stats"]), str(sandbox.guild_id))


async def test_resume_replays_missed_events(
    session: aiohttp.ClientSession, gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """After a drop, RESUME replays what was dispatched meanwhile, then RESUMED."""
    ready = await identified(gateway)
    await sandbox.drop_gateway()
    assert await gateway.wait_closed() == 4000
    uid = await sandbox.add_member()
    client = await GatewayClient.connect(session, sandbox.gateway_url)
    await client.recv()
    await client.send(6, {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 2})
    replayed = await client.recv_until("GUILD_MEMBER_ADD")
    resumed = await client.recv_until("RESUMED")
    await client.ws.close()
    assert (replayed["d"]["user"]["id"], replayed["s"], resumed["s"]) == (str(uid), 3, 4)


async def test_resume_unknown_session_is_invalid(gateway: GatewayClient) -> None:
    """RESUME of an unknown session gets op 9 d=false."""
    await gateway.send(6, {"token": TOKEN, "session_id": "nope", "seq": 1})
    frame = await gateway.recv()
    assert frame is not None
    assert (frame["op"], frame["d"]) == (9, False)


async def test_non_resumable_drop_invalidates(
    session: aiohttp.ClientSession, gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """drop_gateway(resumable=False) sends op 9 d=false and the session cannot be resumed."""
    ready = await identified(gateway)
    await sandbox.drop_gateway(resumable=False)
    invalid = await gateway.recv()
    client = await GatewayClient.connect(session, sandbox.gateway_url)
    await client.recv()
    await client.send(6, {"token": TOKEN, "session_id": ready["d"]["session_id"], "seq": 2})
    refused = await client.recv()
    await client.ws.close()
    assert invalid is not None
    assert refused is not None
    assert [(invalid["op"], invalid["d"]), (refused["op"], refused["d"])] == [(9, False), (9, False)]


async def test_presence_is_recorded(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Op 3 is recorded as the bot's presence."""
    await identified(gateway)
    activity = {"name": "1,234 members", "type": 3}
    await gateway.send(3, {"status": "online", "activities": [activity], "since": 0, "afk": False})
    await gateway.send(1, None)  # frames are handled in order: once the ACK is back, op 3 was processed
    await gateway.recv()
    assert sandbox.presence == {"status": "online", "activities": [activity], "since": 0, "afk": False}


async def test_request_all_members_chunks(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Op 8 for all members answers GUILD_MEMBERS_CHUNK with every member and the nonce."""
    await identified(gateway)
    await gateway.send(8, {"guild_id": str(sandbox.guild_id), "query": "", "limit": 0, "nonce": "n1"})
    chunk = (await gateway.recv_until("GUILD_MEMBERS_CHUNK"))["d"]
    assert (len(chunk["members"]), chunk["chunk_count"], chunk["nonce"]) == (sandbox.member_count, 1, "n1")


async def test_request_members_by_id_reports_not_found(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Op 8 with user_ids lists the found members and the missing ids."""
    await identified(gateway)
    await gateway.send(8, {"guild_id": str(sandbox.guild_id), "user_ids": [str(sandbox.bot_user_id), "5"]})
    chunk = (await gateway.recv_until("GUILD_MEMBERS_CHUNK"))["d"]
    assert ([m["user"]["id"] for m in chunk["members"]], chunk["not_found"]) == (
        [str(sandbox.bot_user_id)],
        ["5"],
    )


async def test_gateway_frames_are_journaled(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """Received ops and sent events are in the journal."""
    await identified(gateway)
    records = [(g.direction, g.op, g.event) for g in sandbox.journal.gateway]
    assert ("recv", 2, None) in records
    assert ("send", 0, "READY") in records


async def test_compress_disabled_sends_text(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    """With compress=False the sandbox ignores ?compress=zlib-stream and sends text frames."""
    async with Sandbox(SandboxConfig(compress=False), clock=clock) as sb:
        client = await GatewayClient.connect(session, sb.gateway_url, compress=True)
        await client.recv()
        await client.ws.close()
    assert (client.text_frames, client.binary_frames) == (1, [])


async def test_reconnect_op_variant(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """drop_gateway(reconnect_op=True) asks the client to reconnect with op 7."""
    await identified(gateway)
    await sandbox.drop_gateway(reconnect_op=True)
    frame = await gateway.recv()
    assert frame is not None
    assert frame["op"] == 7


async def next_dispatches(gateway: GatewayClient, count: int) -> list[dict[str, Any]]:
    """The next `count` dispatch frames, skipping heartbeat ACKs and other ops."""
    frames: list[dict[str, Any]] = []
    while len(frames) < count:
        frame = await gateway.recv()
        if frame is None:
            raise AssertionError(f"socket closed after {frames}")
        if frame["op"] == 0:
            frames.append(frame)
    return frames


async def joins_and_a_ban(gateway: GatewayClient, sandbox: Sandbox) -> list[dict[str, Any]]:
    """Three joins, then the first joiner banned: the five dispatches as the client received them."""
    uids = [await sandbox.add_member(username=f"burst{n}") for n in range(3)]
    await sandbox.ban(uids[0])
    return await next_dispatches(gateway, 5)


async def test_replay_sends_the_same_payloads_again(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """replay_dispatches(3) re-sends the last three dispatches with the payloads they had."""
    await identified(gateway)
    originals = await joins_and_a_ban(gateway, sandbox)
    await sandbox.replay_dispatches(3)
    replayed = await next_dispatches(gateway, 3)
    assert [(f["t"], f["d"]) for f in replayed] == [(f["t"], f["d"]) for f in originals[-3:]]


async def test_replayed_dispatches_get_fresh_sequence_numbers(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """Replays continue the session's sequence instead of reusing the original numbers."""
    await identified(gateway)
    originals = await joins_and_a_ban(gateway, sandbox)
    await sandbox.replay_dispatches(2)
    replayed = await next_dispatches(gateway, 2)
    last = originals[-1]["s"]
    assert [f["s"] for f in replayed] == [last + 1, last + 2]


async def test_replay_picks_only_the_named_events(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """With `events`, only dispatches of those names count and are re-sent."""
    await identified(gateway)
    await joins_and_a_ban(gateway, sandbox)
    sent = await sandbox.replay_dispatches(5, events=["GUILD_BAN_ADD", "GUILD_MEMBER_REMOVE"])
    replayed = await next_dispatches(gateway, 2)
    assert (sent, [f["t"] for f in replayed]) == (2, ["GUILD_BAN_ADD", "GUILD_MEMBER_REMOVE"])


async def test_replaying_twice_sends_the_same_dispatches_twice(
    gateway: GatewayClient, sandbox: Sandbox
) -> None:
    """A replay does not count as a dispatch, so the second replay re-sends the same ones."""
    await identified(gateway)
    originals = await joins_and_a_ban(gateway, sandbox)
    await sandbox.replay_dispatches(2)
    await sandbox.replay_dispatches(2)
    replayed = await next_dispatches(gateway, 4)
    assert [f["d"] for f in replayed] == [f["d"] for f in originals[-2:] * 2]


async def test_replay_sends_a_message_as_it_was_created(
    gateway: GatewayClient, sandbox: Sandbox, api: RestClient
) -> None:
    """A message edited since its MESSAGE_CREATE is replayed with the content it was created with."""
    await identified(gateway, GUILDS | GUILD_MESSAGES)
    path = f"/channels/{sandbox.channel_ids['stats']}/messages"
    created = (await api.call("POST", path, json_body={"content": "v1"})).body
    await api.call("PATCH", f"{path}/{created['id']}", json_body={"content": "v2"})
    await sandbox.replay_dispatches(1, events=["MESSAGE_CREATE"])
    await next_dispatches(gateway, 2)  # the original MESSAGE_CREATE and MESSAGE_UPDATE
    (replayed,) = await next_dispatches(gateway, 1)
    assert (replayed["t"], replayed["d"]["content"]) == ("MESSAGE_CREATE", "v1")


async def test_replay_only_sends_what_the_session_received(gateway: GatewayClient, sandbox: Sandbox) -> None:
    """A session without the members intent gets back only the ban it was sent, not the joins."""
    await identified(gateway, GUILDS | MODERATION)
    await sandbox.add_member()
    await sandbox.ban(424242)
    await gateway.recv_until("GUILD_BAN_ADD")
    sent = await sandbox.replay_dispatches(5)
    (replayed,) = await next_dispatches(gateway, 1)
    assert (sent, replayed["t"]) == (1, "GUILD_BAN_ADD")


async def test_replay_of_fewer_than_one_is_refused(sandbox: Sandbox) -> None:
    """A count below one is a mistake, not a no-op."""
    with pytest.raises(ValueError, match="at least 1"):
        await sandbox.replay_dispatches(0)
