"""Tests for the member-list pass by gateway chunks: routing by nonce, completion, duplicates and timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from src.core.exceptions import TransientDiscordError
from src.core.member_scan import NONCE_PREFIX, MemberChunks, member_info, member_infos
from src.types.ports import MemberInfo

ROLE = 333456789012345678
SHORT = 0.05  # seconds: the chunk timeout of a test in which the gateway goes quiet
PATIENT = 10.0  # the chunk timeout of a test whose chunks do come: a busy machine must not fail it


def member(user_id: int, *, bot: bool = False, roles: Sequence[int] = ()) -> dict[str, Any]:
    """A member payload as Discord sends it in a GUILD_MEMBERS_CHUNK (ids as strings)."""
    return {
        "user": {"id": str(user_id), "username": f"user{user_id}", "bot": bot},
        "roles": [str(role) for role in roles],
        "joined_at": "2026-01-01T00:00:00+00:00",
    }


def chunk(nonce: str, index: int, count: int, members: Sequence[Any]) -> dict[str, Any]:
    """One GUILD_MEMBERS_CHUNK dispatch's data."""
    return {
        "guild_id": "42",
        "nonce": nonce,
        "chunk_index": index,
        "chunk_count": count,
        "members": list(members),
    }


class Gateway:
    """Answers each member request by handing its chunks to `take` from a task, as the gateway would."""

    def __init__(self, chunks: MemberChunks, answers: Sequence[tuple[int, int, Sequence[Any]]] = ()) -> None:
        self.chunks = chunks
        self.answers = list(answers)  # (chunk_index, chunk_count, members) in the order they arrive
        self.nonces: list[str] = []
        self.taken: list[bool] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def request(self, nonce: str) -> None:
        self.nonces.append(nonce)
        self.tasks.append(asyncio.create_task(self._answer(nonce)))

    async def _answer(self, nonce: str) -> None:
        for index, count, members in self.answers:
            await asyncio.sleep(0)
            self.taken.append(self.chunks.take(chunk(nonce, index, count, members)))


class Seen:
    """An on_chunk that records every chunk it is given."""

    def __init__(self) -> None:
        self.chunks: list[list[MemberInfo]] = []

    def __call__(self, members: Sequence[MemberInfo]) -> None:
        self.chunks.append(list(members))

    @property
    def members(self) -> list[MemberInfo]:
        return [m for chunk in self.chunks for m in chunk]


# --- member payloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (member(7), MemberInfo(7, False)),
        (member(8, bot=True, roles=[ROLE, 5]), MemberInfo(8, True, frozenset({ROLE, 5}))),
        ({"user": {"id": "9"}}, MemberInfo(9, False)),  # no bot flag, no roles
        ({"user": {"id": 9}, "roles": None}, MemberInfo(9, False)),
        ({"roles": []}, None),  # no user
        ({"user": {"username": "x"}}, None),  # no id
        ({"user": {"id": "abc"}}, None),
        ({"user": None}, None),
        ({"user": {"id": "9"}, "roles": ["x"]}, None),
        ({"user": {"id": "9"}, "roles": 5}, None),
        ("junk", None),
        (None, None),
    ],
)
def test_member_info_keeps_id_bot_flag_and_roles(payload: Any, expected: MemberInfo | None) -> None:
    """member_info reads the id, bot flag and role ids of a member payload, or None when it is malformed."""
    assert member_info(payload) == expected


def test_member_infos_skips_malformed_members() -> None:
    """A malformed entry in a chunk is skipped; the others are kept in order."""
    assert member_infos([member(1), {"user": {}}, "junk", member(2, bot=True)]) == [
        MemberInfo(1, False),
        MemberInfo(2, True),
    ]


# --- a pass --------------------------------------------------------------------------------------------


async def test_chunks_in_order_feed_every_member_and_return_the_count() -> None:
    """Three chunks in order are fed to on_chunk as they come; scan returns how many members it fed."""
    chunks = MemberChunks()
    gateway = Gateway(
        chunks,
        [(0, 3, [member(1), member(2)]), (1, 3, [member(3, bot=True)]), (2, 3, [member(4, roles=[ROLE])])],
    )
    seen = Seen()
    assert await chunks.scan(gateway.request, seen, chunk_timeout=PATIENT) == 4
    assert seen.chunks == [
        [MemberInfo(1, False), MemberInfo(2, False)],
        [MemberInfo(3, True)],
        [MemberInfo(4, False, frozenset({ROLE}))],
    ]
    assert gateway.taken == [True, True, True]


async def test_chunks_out_of_order_complete_the_pass() -> None:
    """Chunks arriving 2, 0, 1 complete the pass once all three are in."""
    chunks = MemberChunks()
    gateway = Gateway(chunks, [(2, 3, [member(3)]), (0, 3, [member(1)]), (1, 3, [member(2)])])
    seen = Seen()
    assert await chunks.scan(gateway.request, seen, chunk_timeout=PATIENT) == 3
    assert sorted(m.user_id for m in seen.members) == [1, 2, 3]


async def test_the_pass_ends_only_when_every_chunk_arrived() -> None:
    """The scan is still waiting after 2 of 3 chunks and returns as soon as the last one is taken."""
    chunks = MemberChunks()
    nonces: list[str] = []

    async def request(nonce: str) -> None:
        nonces.append(nonce)

    seen = Seen()
    scan = asyncio.create_task(chunks.scan(request, seen, chunk_timeout=5.0))
    await asyncio.sleep(0)
    [nonce] = nonces
    assert chunks.take(chunk(nonce, 0, 3, [member(1)]))
    assert chunks.take(chunk(nonce, 2, 3, [member(3)]))
    await asyncio.sleep(0.01)
    assert not scan.done()
    assert chunks.take(chunk(nonce, 1, 3, [member(2)]))
    assert await asyncio.wait_for(scan, 1.0) == 3


async def test_chunks_taken_while_the_request_is_sent_count() -> None:
    """Chunks that arrive before request() returns (a fast gateway) are not lost."""
    chunks = MemberChunks()

    async def request(nonce: str) -> None:
        chunks.take(chunk(nonce, 0, 2, [member(1)]))
        chunks.take(chunk(nonce, 1, 2, [member(2)]))

    assert await chunks.scan(request, Seen(), chunk_timeout=PATIENT) == 2


async def test_duplicate_chunks_are_fed_once() -> None:
    """A chunk index seen twice (a replayed dispatch) is not fed or counted again."""
    chunks = MemberChunks()
    gateway = Gateway(
        chunks,
        [(0, 2, [member(1), member(2)]), (0, 2, [member(1), member(2)]), (1, 2, [member(3, bot=True)])],
    )
    seen = Seen()
    assert await chunks.scan(gateway.request, seen, chunk_timeout=PATIENT) == 3
    assert [m.user_id for m in seen.members] == [1, 2, 3]


async def test_malformed_members_are_skipped_and_the_pass_goes_on() -> None:
    """Bad entries inside a chunk, or a chunk whose members are not a list, do not stop the pass."""
    chunks = MemberChunks()
    gateway = Gateway(chunks, [(0, 3, [member(1), {"user": {}}, 42]), (1, 3, "junk"), (2, 3, [member(2)])])
    seen = Seen()
    assert await chunks.scan(gateway.request, seen, chunk_timeout=PATIENT) == 2
    assert [m.user_id for m in seen.members] == [1, 2]


async def test_malformed_chunk_indexes_are_ignored() -> None:
    """A chunk without an index, or one beyond chunk_count, neither counts nor ends the pass early."""
    chunks = MemberChunks()
    nonces: list[str] = []

    async def request(nonce: str) -> None:
        nonces.append(nonce)

    seen = Seen()
    scan = asyncio.create_task(chunks.scan(request, seen, chunk_timeout=5.0))
    await asyncio.sleep(0)
    [nonce] = nonces
    bad = [
        {**chunk(nonce, 0, 2, [member(8)]), "chunk_index": None},
        {**chunk(nonce, 0, 2, [member(8)]), "chunk_count": "2"},
        chunk(nonce, 5, 2, [member(8)]),
        chunk(nonce, -1, 2, [member(8)]),
    ]
    for data in bad:
        assert chunks.take(data)
    assert chunks.take(chunk(nonce, 0, 2, [member(1)]))
    await asyncio.sleep(0.01)
    assert not scan.done()
    assert chunks.take(chunk(nonce, 1, 2, [member(2)]))
    assert await asyncio.wait_for(scan, 1.0) == 2
    assert [m.user_id for m in seen.members] == [1, 2]


# --- routing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        chunk("0x1f", 0, 1, [member(1)]),  # discord.py's own chunk request
        {**chunk("", 0, 1, [member(1)])},
        {key: value for key, value in chunk("x", 0, 1, []).items() if key != "nonce"},
        {**chunk("x", 0, 1, []), "nonce": 12},
        "junk",
        None,
    ],
    ids=["discord.py-nonce", "empty-nonce", "no-nonce", "number-nonce", "text", "none"],
)
def test_foreign_chunks_are_left_to_discord_py(data: Any) -> None:
    """A chunk whose nonce is not ours (or that has none) is not taken: take returns False."""
    assert MemberChunks().take(data) is False


async def test_late_chunks_of_a_finished_pass_are_dropped() -> None:
    """After the pass ended, a chunk with its nonce is taken (kept from discord.py) but fed to no one."""
    chunks = MemberChunks()
    gateway = Gateway(chunks, [(0, 1, [member(1)])])
    seen = Seen()
    await chunks.scan(gateway.request, seen, chunk_timeout=PATIENT)
    [nonce] = gateway.nonces
    assert chunks.take(chunk(nonce, 0, 1, [member(9)])) is True
    assert chunks.take(chunk(NONCE_PREFIX + "unknown", 0, 1, [member(9)])) is True
    assert [m.user_id for m in seen.members] == [1]


async def test_two_passes_at_once_get_their_own_chunks() -> None:
    """Two passes running side by side each receive only the chunks of their own request."""
    chunks = MemberChunks()
    first = Gateway(chunks, [(0, 2, [member(1)]), (1, 2, [member(2)])])
    second = Gateway(chunks, [(0, 1, [member(3, bot=True)])])
    seen_first, seen_second = Seen(), Seen()
    counts = await asyncio.gather(
        chunks.scan(first.request, seen_first, chunk_timeout=1.0),
        chunks.scan(second.request, seen_second, chunk_timeout=1.0),
    )
    assert list(counts) == [2, 1]
    assert [m.user_id for m in seen_first.members] == [1, 2]
    assert [m.user_id for m in seen_second.members] == [3]
    assert first.nonces != second.nonces


async def test_the_request_gets_a_short_nonce_of_ours() -> None:
    """The nonce starts with the scan prefix, fits Discord's 32 characters and differs between passes."""
    chunks = MemberChunks()
    gateway = Gateway(chunks, [(0, 1, [])])
    for _ in range(3):
        await chunks.scan(gateway.request, Seen(), chunk_timeout=PATIENT)
    assert all(nonce.startswith(NONCE_PREFIX) and len(nonce) <= 32 for nonce in gateway.nonces)
    assert len(set(gateway.nonces)) == 3


# --- failures ------------------------------------------------------------------------------------------


async def test_no_chunk_at_all_times_out_with_a_message() -> None:
    """A request the gateway never answers raises TransientDiscordError after chunk_timeout."""
    chunks = MemberChunks()
    with pytest.raises(TransientDiscordError) as caught:
        await chunks.scan(Gateway(chunks).request, Seen(), chunk_timeout=SHORT)
    assert str(caught.value) == "member list stopped after 0 of ? chunks (0.05 s without one)"


async def test_a_gateway_that_goes_quiet_times_out_and_drops_later_chunks() -> None:
    """After 1 of 3 chunks and silence the pass fails saying how far it got; a late chunk is dropped."""
    chunks = MemberChunks()
    gateway = Gateway(chunks, [(0, 3, [member(1)])])
    seen = Seen()
    with pytest.raises(TransientDiscordError, match=r"after 1 of 3 chunks \(0.05 s without one\)"):
        await chunks.scan(gateway.request, seen, chunk_timeout=SHORT)
    [nonce] = gateway.nonces
    assert chunks.take(chunk(nonce, 1, 3, [member(2)])) is True
    assert [m.user_id for m in seen.members] == [1]


async def test_the_timeout_counts_from_the_last_chunk() -> None:
    """Chunks arriving more often than chunk_timeout keep a pass alive longer than chunk_timeout in total."""
    chunks = MemberChunks()
    nonces: list[str] = []

    async def request(nonce: str) -> None:
        nonces.append(nonce)

    scan = asyncio.create_task(chunks.scan(request, Seen(), chunk_timeout=0.2))
    await asyncio.sleep(0)
    for index in range(4):
        await asyncio.sleep(0.05)
        chunks.take(chunk(nonces[0], index, 4, [member(index)]))
    assert await asyncio.wait_for(scan, 1.0) == 4


async def test_a_failed_request_raises_and_forgets_the_pass() -> None:
    """An error from sending the request propagates, and the pass no longer receives chunks."""
    chunks = MemberChunks()
    nonces: list[str] = []

    async def request(nonce: str) -> None:
        nonces.append(nonce)
        raise TransientDiscordError("request members: gateway not connected")

    seen = Seen()
    with pytest.raises(TransientDiscordError, match="gateway not connected"):
        await chunks.scan(request, seen, chunk_timeout=SHORT)
    assert chunks.take(chunk(nonces[0], 0, 1, [member(1)])) is True
    assert seen.chunks == []


async def test_a_rate_limited_request_is_sent_again_after_retry_after() -> None:
    """RATE_LIMITED for our nonce makes the pass wait Discord's retry_after and ask again, then finish."""
    chunks = MemberChunks()
    requests: list[str] = []

    async def request(nonce: str) -> None:
        requests.append(nonce)
        if len(requests) == 1:
            limited = {"opcode": 8, "retry_after": 0.01, "meta": {"guild_id": "1", "nonce": nonce}}
            asyncio.get_running_loop().call_soon(chunks.rate_limited, limited)
        else:
            asyncio.get_running_loop().call_soon(chunks.take, chunk(nonce, 0, 1, [member(7, bot=True)]))

    seen = Seen()
    assert await chunks.scan(request, seen, chunk_timeout=PATIENT) == 1
    assert len(requests) == 2
    assert requests[0] == requests[1]
    assert seen.chunks == [[MemberInfo(7, True)]]


async def test_a_long_rate_limit_fails_the_pass_for_the_callers_backoff() -> None:
    """A retry_after beyond a minute is not slept inside the pass: it fails with the wait in the message."""
    chunks = MemberChunks()

    async def request(nonce: str) -> None:
        limited = {"retry_after": 600.0, "meta": {"nonce": nonce}}
        asyncio.get_running_loop().call_soon(chunks.rate_limited, limited)

    with pytest.raises(TransientDiscordError, match="rate limited for 600 s"):
        await chunks.scan(request, Seen(), chunk_timeout=SHORT)


def test_rate_limits_of_other_requests_are_left_to_discord_py() -> None:
    """A RATE_LIMITED without one of our running nonces is not ours."""
    assert MemberChunks().rate_limited({"retry_after": 1.0, "meta": {"nonce": "someone-else"}}) is False
