"""Message nonces as Discord treats them: echoed, never stored, and with enforce_nonce a repeat is free."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest

from src.sandbox import Sandbox, SandboxConfig
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import GatewayClient, RestClient

GUILDS, MEMBERS, GUILD_MESSAGES = 1 << 0, 1 << 1, 1 << 9
TOKEN = SandboxConfig().token
FIVE_MINUTES = 300.0


def messages_path(sandbox: Sandbox, key: str = "stats") -> str:
    """The REST path of a seeded channel's messages."""
    return f"/channels/{sandbox.channel_ids[key]}/messages"


async def post(api: RestClient, sandbox: Sandbox, body: dict[str, Any], key: str = "stats") -> Any:
    """POST a message and return the answer."""
    return await api.call("POST", messages_path(sandbox, key), json_body=body)


def enforced(nonce: str | int, content: str = "hello") -> dict[str, Any]:
    """A message body as discord.py sends it: a nonce with enforce_nonce."""
    return {"content": content, "nonce": nonce, "enforce_nonce": True}


async def test_the_create_answer_echoes_a_string_nonce(api: RestClient, sandbox: Sandbox) -> None:
    """The created message in the answer carries the nonce that was sent."""
    answer = await post(api, sandbox, {"content": "hi", "nonce": "abc-123"})
    assert (answer.status, answer.body["nonce"]) == (200, "abc-123")


async def test_the_create_answer_echoes_an_integer_nonce(api: RestClient, sandbox: Sandbox) -> None:
    """An integer nonce comes back as the integer it was."""
    answer = await post(api, sandbox, {"content": "hi", "nonce": 1234567890123456789})
    assert answer.body["nonce"] == 1234567890123456789


async def test_message_create_carries_the_nonce(
    gateway: GatewayClient, api: RestClient, sandbox: Sandbox
) -> None:
    """MESSAGE_CREATE on the gateway carries the nonce too."""
    await gateway.identify(TOKEN, GUILDS | GUILD_MESSAGES)
    await gateway.recv_until("GUILD_CREATE")
    await post(api, sandbox, {"content": "hi", "nonce": "from-gateway"})
    created = await gateway.recv_until("MESSAGE_CREATE")
    assert created["d"]["nonce"] == "from-gateway"


async def test_message_history_does_not_return_the_nonce(api: RestClient, sandbox: Sandbox) -> None:
    """GET /channels/{id}/messages lists the message without a nonce: Discord does not keep it."""
    await post(api, sandbox, {"content": "hi", "nonce": "gone-later"})
    (listed,) = (await api.call("GET", messages_path(sandbox))).body
    assert (listed["content"], "nonce" in listed) == ("hi", False)


async def test_a_fetched_message_has_no_nonce(api: RestClient, sandbox: Sandbox) -> None:
    """GET of the single message has no nonce either."""
    created = (await post(api, sandbox, {"content": "hi", "nonce": "n1"})).body
    fetched = (await api.call("GET", f"{messages_path(sandbox)}/{created['id']}")).body
    assert (fetched["id"], "nonce" in fetched) == (created["id"], False)


async def test_an_enforced_repeat_returns_the_existing_message(api: RestClient, sandbox: Sandbox) -> None:
    """The same nonce again with enforce_nonce answers 200 with the first message; the channel has one."""
    first = await post(api, sandbox, enforced("retry-me", "first"))
    again = await post(api, sandbox, enforced("retry-me", "second"))
    contents = [m["content"] for m in sandbox.messages(sandbox.channel_ids["stats"])]
    assert (again.status, again.body["id"], again.body["content"], contents) == (
        200,
        first.body["id"],
        "first",
        ["first"],
    )


async def test_an_enforced_repeat_dispatches_nothing(
    gateway: GatewayClient, api: RestClient, sandbox: Sandbox
) -> None:
    """Only the first send of a nonce reaches the gateway as MESSAGE_CREATE."""
    await gateway.identify(TOKEN, GUILDS | MEMBERS | GUILD_MESSAGES)
    await gateway.recv_until("GUILD_CREATE")
    await post(api, sandbox, enforced("once"))
    await post(api, sandbox, enforced("once"))
    marker = await sandbox.add_member(username="marker")
    names = []
    while (frame := await gateway.recv()) is not None:
        if frame.get("t") == "GUILD_MEMBER_ADD" and frame["d"]["user"]["id"] == str(marker):
            break
        names.append(frame.get("t"))
    assert names.count("MESSAGE_CREATE") == 1


async def test_a_repeat_without_enforce_nonce_creates_another(api: RestClient, sandbox: Sandbox) -> None:
    """Without enforce_nonce the nonce is only echoed: the same nonce twice makes two messages."""
    await post(api, sandbox, {"content": "one", "nonce": "same"})
    await post(api, sandbox, {"content": "two", "nonce": "same"})
    assert [m["content"] for m in sandbox.messages(sandbox.channel_ids["stats"])] == ["one", "two"]


async def test_an_integer_and_its_digits_are_one_nonce(api: RestClient, sandbox: Sandbox) -> None:
    """A nonce sent as 42 and then as "42" finds the same message."""
    first = await post(api, sandbox, enforced(42))
    again = await post(api, sandbox, enforced("42"))
    assert again.body["id"] == first.body["id"]


async def test_the_nonce_holds_for_just_under_five_minutes(
    api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """4 min 59 s later the repeat still returns the first message."""
    first = await post(api, sandbox, enforced("patient"))
    await clock.advance(FIVE_MINUTES - 1)
    again = await post(api, sandbox, enforced("patient"))
    assert again.body["id"] == first.body["id"]


async def test_after_five_minutes_the_nonce_is_forgotten(
    api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """Five minutes later the same nonce creates a new message."""
    first = await post(api, sandbox, enforced("stale"))
    await clock.advance(FIVE_MINUTES)
    again = await post(api, sandbox, enforced("stale"))
    assert again.body["id"] != first.body["id"]
    assert len(sandbox.messages(sandbox.channel_ids["stats"])) == 2


async def test_the_five_minutes_are_not_scaled(session: aiohttp.ClientSession, clock: ManualClock) -> None:
    """With --time-scale 120 the nonce still holds after 10 s (scaled, five minutes would be 2.5 s)."""
    async with Sandbox(SandboxConfig(members=5, time_scale=120.0), clock=clock) as sb:
        api = RestClient(session, sb)
        first = await post(api, sb, enforced("unscaled"))
        await clock.advance(10)
        again = await post(api, sb, enforced("unscaled"))
    assert again.body["id"] == first.body["id"]


async def test_the_nonce_is_per_channel(api: RestClient, sandbox: Sandbox) -> None:
    """The same nonce in another channel creates a message there."""
    await post(api, sandbox, enforced("shared"), key="stats")
    await post(api, sandbox, enforced("shared"), key="general")
    assert len(sandbox.messages(sandbox.channel_ids["general"])) == 1


async def test_a_deleted_message_is_not_returned_again(api: RestClient, sandbox: Sandbox) -> None:
    """After the first message was deleted, the same nonce creates a new one."""
    first = await post(api, sandbox, enforced("deleted"))
    await api.call("DELETE", f"{messages_path(sandbox)}/{first.body['id']}")
    again = await post(api, sandbox, enforced("deleted"))
    assert [m["id"] for m in sandbox.messages(sandbox.channel_ids["stats"])] == [again.body["id"]]


async def test_a_nonce_over_25_characters_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """A 26-character nonce is refused with Discord's form error on `nonce`, and nothing is posted."""
    answer = await post(api, sandbox, {"content": "hi", "nonce": "n" * 26})
    assert (answer.status, answer.body) == (
        400,
        {
            "message": "Invalid Form Body",
            "code": 50035,
            "errors": {
                "nonce": {
                    "_errors": [
                        {"code": "NONCE_TYPE_TOO_LONG", "message": "Must be 25 or fewer characters long."}
                    ]
                }
            },
        },
    )
    assert sandbox.messages(sandbox.channel_ids["stats"]) == []


async def test_a_nonce_of_25_characters_is_accepted(api: RestClient, sandbox: Sandbox) -> None:
    """25 characters is the most a nonce may have."""
    answer = await post(api, sandbox, {"content": "hi", "nonce": "n" * 25})
    assert (answer.status, answer.body["nonce"]) == (200, "n" * 25)


async def test_a_nonce_of_another_type_is_400(api: RestClient, sandbox: Sandbox) -> None:
    """A nonce that is neither a string nor an integer is a form error on `nonce`."""
    answer = await post(api, sandbox, {"content": "hi", "nonce": [1]})
    assert (answer.status, answer.body["errors"]["nonce"]["_errors"][0]["code"]) == (
        400,
        "NONCE_TYPE_INVALID_TYPE",
    )


async def test_nonce_errors_come_with_the_other_form_errors(api: RestClient, sandbox: Sandbox) -> None:
    """A long nonce and a long content are reported in one answer."""
    answer = await post(api, sandbox, {"content": "c" * 2001, "nonce": "n" * 26})
    assert sorted(answer.body["errors"]) == ["content", "nonce"]


@pytest.fixture
async def logged_in(sandbox: Sandbox) -> AsyncIterator[discord.Client]:
    """A discord.py client logged in to the sandbox over REST (no gateway needed to send)."""
    base = discord.http.Route.BASE
    discord.http.Route.BASE = sandbox.rest_url
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(sandbox.config.token)
        yield client
    finally:
        await client.close()
        discord.http.Route.BASE = base


async def test_discordpy_send_with_a_nonce_twice_posts_once(
    logged_in: discord.Client, sandbox: Sandbox
) -> None:
    """Messageable.send(nonce=...) twice, as a retry would, gives the same message and posts it once."""
    channel = logged_in.get_partial_messageable(sandbox.channel_ids["stats"])
    first = await channel.send("daily report", nonce="report-2026-01-01")
    again = await channel.send("daily report", nonce="report-2026-01-01")
    stored = sandbox.messages(sandbox.channel_ids["stats"])
    assert (again.id, first.nonce, len(stored)) == (first.id, "report-2026-01-01", 1)
