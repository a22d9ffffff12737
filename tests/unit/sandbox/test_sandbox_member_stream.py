"""The all-members op 8 answer: every member, streamed in ascending id without starving the event loop."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from itertools import islice
from typing import Any

import aiohttp
import pytest

from src.sandbox import Sandbox, SandboxConfig
from src.sandbox.ids import SnowflakeFactory, seeded_role_id
from src.sandbox.member_requests import MembersChunk
from src.sandbox.state import GuildState
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import GatewayClient, until

GUILDS, MEMBERS = 1 << 0, 1 << 1
TOKEN = SandboxConfig().token


def all_members(sandbox: Sandbox, nonce: str = "pass-1") -> dict[str, Any]:
    """The op 8 payload asking every member."""
    return {"guild_id": str(sandbox.guild_id), "query": "", "limit": 0, "nonce": nonce}


async def connected(
    session: aiohttp.ClientSession,
    sandbox: Sandbox,
    *,
    compress: bool = True,
    intents: int = GUILDS | MEMBERS,
) -> tuple[GatewayClient, dict[str, Any]]:
    """A client past GUILD_CREATE, and that GUILD_CREATE frame."""
    client = await GatewayClient.connect(session, sandbox.gateway_url, compress=compress)
    await client.recv()
    await client.identify(TOKEN, intents)
    return client, await client.recv_until("GUILD_CREATE")


async def chunks(client: GatewayClient, nonce: str) -> AsyncIterator[dict[str, Any]]:
    """Every frame up to the last chunk of the answer with `nonce` (other frames included)."""
    while True:
        frame = await client.recv(timeout=10.0)
        assert frame is not None, "socket closed mid-answer"
        yield frame
        data = frame.get("d") or {}
        last = data.get("chunk_index", -2) + 1 == data.get("chunk_count")
        if frame.get("t") == "GUILD_MEMBERS_CHUNK" and data.get("nonce") == nonce and last:
            return


@pytest.fixture
async def big(clock: ManualClock) -> AsyncIterator[Sandbox]:
    """2,499 seeded members (2,500 with the bot): three chunks; 1,000 holders per seeded role."""
    async with Sandbox(SandboxConfig(members=2499, role_members=1000), clock=clock) as sb:
        yield sb


async def test_every_member_in_ascending_chunks(session: aiohttp.ClientSession, big: Sandbox) -> None:
    """Three chunks of up to 1,000, indexed 0..2 of 3, each with the nonce, ids ascending across them."""
    client, _ = await connected(session, big)
    await client.send(8, all_members(big))
    answer = [f["d"] async for f in chunks(client, "pass-1") if f.get("t") == "GUILD_MEMBERS_CHUNK"]
    await client.ws.close()
    ids = [int(m["user"]["id"]) for chunk in answer for m in chunk["members"]]
    assert [(c["chunk_index"], c["chunk_count"], c["nonce"]) for c in answer] == [
        (i, 3, "pass-1") for i in range(3)
    ]
    assert [len(c["members"]) for c in answer] == [1000, 1000, 500]
    assert ids == sorted(ids)
    assert ids == list(big.state.members.ascending())


async def test_chunks_carry_bots_and_roles(session: aiohttp.ClientSession, big: Sandbox) -> None:
    """Counting the answer gives the bot count and each role's holders that the sandbox reports."""
    client, _ = await connected(session, big)
    await client.send(8, all_members(big))
    members = [
        m
        async for f in chunks(client, "pass-1")
        if f.get("t") == "GUILD_MEMBERS_CHUNK"
        for m in f["d"]["members"]
    ]
    await client.ws.close()
    bots = sum(bool(m["user"].get("bot")) for m in members)
    holders = {k: sum(str(seeded_role_id(k)) in m["roles"] for m in members) for k in (1, 2, 3)}
    assert (bots, big.bot_member_count) == (24 + 1, 25)
    assert holders == {1: 1000, 2: 1000, 3: 1000}


async def test_the_cap_still_limits_when_set(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    """chunk_member_cap (None by default) bounds the answer when a test sets it."""
    async with Sandbox(SandboxConfig(members=2499, chunk_member_cap=1500), clock=clock) as sb:
        client, _ = await connected(session, sb)
        await client.send(8, all_members(sb))
        answer = [f["d"] async for f in chunks(client, "pass-1") if f.get("t") == "GUILD_MEMBERS_CHUNK"]
        await client.ws.close()
    assert [len(c["members"]) for c in answer] == [1000, 500]


async def test_second_request_within_30s_is_rate_limited(
    session: aiohttp.ClientSession, big: Sandbox
) -> None:
    """One all-members request per 30 s: the next one gets a RATE_LIMITED dispatch with its nonce."""
    client, _ = await connected(session, big)
    await client.send(8, all_members(big))
    async for _ in chunks(client, "pass-1"):
        pass
    await client.send(8, all_members(big, "pass-2"))
    limited = (await client.recv_until("RATE_LIMITED"))["d"]
    await client.ws.close()
    assert (limited["opcode"], limited["meta"]["nonce"], limited["retry_after"] > 0) == (8, "pass-2", True)


async def test_the_30s_limit_is_per_guild_not_per_session(
    session: aiohttp.ClientSession, big: Sandbox
) -> None:
    """A new session does not get a fresh all-members request: Discord limits it per guild."""
    first, _ = await connected(session, big)
    await first.send(8, all_members(big))
    async for _ in chunks(first, "pass-1"):
        pass
    await first.ws.close()
    second, _ = await connected(session, big)
    await second.send(8, all_members(big, "pass-2"))
    limited = (await second.recv_until("RATE_LIMITED"))["d"]
    await second.ws.close()
    assert limited["meta"]["nonce"] == "pass-2"


async def test_resume_replays_chunks_as_sent(session: aiohttp.ClientSession, big: Sandbox) -> None:
    """Chunks kept for RESUME hold no members; rebuilt on replay, they carry the same members."""
    client, guild_create = await connected(session, big)
    await client.send(8, all_members(big))
    sent = [f async for f in chunks(client, "pass-1") if f.get("t") == "GUILD_MEMBERS_CHUNK"]
    ready_session = next(s for s in big._hub.connected_sessions)
    await big.drop_gateway()
    await client.wait_closed()
    again = await GatewayClient.connect(session, big.gateway_url)
    await again.recv()
    await again.send(6, {"token": TOKEN, "session_id": ready_session.id, "seq": guild_create["s"]})
    replayed = [f async for f in chunks(again, "pass-1") if f.get("t") == "GUILD_MEMBERS_CHUNK"]
    await again.ws.close()
    assert [(f["s"], f["d"]) for f in replayed] == [(f["s"], f["d"]) for f in sent]


async def test_chunks_without_members_intent_are_empty(session: aiohttp.ClientSession, big: Sandbox) -> None:
    """Without GUILD_MEMBERS the whole list is not given: one empty chunk."""
    client, _ = await connected(session, big, intents=GUILDS)
    await client.send(8, all_members(big))
    chunk = (await client.recv_until("GUILD_MEMBERS_CHUNK"))["d"]
    await client.ws.close()
    assert (chunk["members"], chunk["chunk_count"]) == ([], 1)


@pytest.fixture
async def huge(clock: ManualClock) -> AsyncIterator[Sandbox]:
    """50,000 members: 17 MB of plain JSON, more than loopback buffers hold while the client does not read."""
    async with Sandbox(SandboxConfig(members=50_000, heartbeat_ack_delay=0.0), clock=clock) as sb:
        yield sb


async def test_heartbeats_are_acked_while_members_stream(
    session: aiohttp.ClientSession, huge: Sandbox
) -> None:
    """A heartbeat sent right after op 8 is acknowledged long before the last of 51 chunks."""
    client, _ = await connected(session, huge, compress=False)
    await client.send(8, all_members(huge))
    await client.send(1, None)
    ops = [(f["op"], (f.get("d") or {}).get("chunk_index")) async for f in chunks(client, "pass-1")]
    await client.ws.close()
    ack_at = ops.index((11, None))
    assert ops[-1] == (0, 50)
    assert ack_at < len(ops) // 2


async def test_rest_is_answered_while_members_stream(session: aiohttp.ClientSession, huge: Sandbox) -> None:
    """While the client has not read the answer, the stream waits on the socket and REST still answers."""
    client, _ = await connected(session, huge, compress=False)
    await client.send(8, all_members(huge))
    await until(lambda: huge.member_streams == 1)
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with session.get(huge.rest_url + "/users/@me", headers=headers) as resp:
        status = resp.status
    streaming = huge.member_streams
    members = sum(
        [
            len(f["d"]["members"])
            async for f in chunks(client, "pass-1")
            if f.get("t") == "GUILD_MEMBERS_CHUNK"
        ]
    )
    await client.ws.close()
    assert (status, streaming, members) == (200, 1, huge.member_count)


async def test_stopping_the_sandbox_ends_a_stream(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    """Stopping mid-answer cancels the stream cleanly."""
    sb = Sandbox(SandboxConfig(members=100_000), clock=clock)
    await sb.start()
    client, _ = await connected(session, sb, compress=False)
    await client.send(8, all_members(sb))
    await until(lambda: sb.member_streams == 1)
    await sb.stop()
    await client.ws.close()
    assert sb.member_streams == 0


def test_a_chunk_rebuilds_the_same_members_from_its_snapshot(clock: ManualClock) -> None:
    """Built once (ids dropped), a chunk rebuilds from the snapshot; build() and build_json() agree."""
    state = GuildState(SandboxConfig(members=3000, role_members=0), clock, SnowflakeFactory(clock))
    snapshot = state.members.snapshot()
    ids = list(islice(snapshot.ascending(), 1000, 2000))
    chunk = MembersChunk(state, snapshot, ids, {"guild_id": "1", "chunk_index": 1, "chunk_count": 4})
    first = json.loads(chunk.build_json())
    state.remove_member(ids[0])  # after the snapshot: the rebuilt chunk still lists them
    assert chunk.build() == first
    assert [int(m["user"]["id"]) for m in first["members"]] == ids
