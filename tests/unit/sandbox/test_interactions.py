"""Interactions in the sandbox: INTERACTION_CREATE, the callback, @original, follow-ups and the deadline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from src.sandbox import Sandbox
from src.sandbox.interactions import EPHEMERAL, LOADING, InteractionRecord
from src.sandbox.state import EVERYONE_PERMISSIONS
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import GatewayClient, RestClient

COMMANDS: list[dict[str, Any]] = [
    {
        "name": "stats",
        "description": "Server statistics",
        "options": [
            {"name": "now", "description": "now", "type": 1, "options": []},
            {
                "name": "day",
                "description": "one day",
                "type": 1,
                "options": [{"name": "date", "description": "YYYY-MM-DD", "type": 3, "required": True}],
            },
        ],
    },
    {"name": "health", "description": "health", "default_member_permissions": "32"},
]


@pytest.fixture
async def registered(api: RestClient, sandbox: Sandbox) -> Sandbox:
    """The sandbox with /stats (now, day) and /health registered on its guild."""
    path = f"/applications/{sandbox.application_id}/guilds/{sandbox.guild_id}/commands"
    assert (await api.call("PUT", path, json_body=COMMANDS)).status == 200
    return sandbox


def callback_path(record: InteractionRecord) -> str:
    return f"/interactions/{record.id}/{record.token}/callback"


def original_path(sandbox: Sandbox, record: InteractionRecord) -> str:
    return f"/webhooks/{sandbox.application_id}/{record.token}/messages/@original"


async def test_interaction_create_reaches_the_bot_with_the_command(
    registered: Sandbox, gateway: GatewayClient
) -> None:
    """A session receives INTERACTION_CREATE with the command, its options, the member and a token."""
    await gateway.identify(registered.config.token, 1)
    await gateway.recv_until("GUILD_CREATE")

    record = registered.create_interaction("stats day", {"date": "2026-01-31"})
    frame = await gateway.recv_until("INTERACTION_CREATE")

    data = frame["d"]
    assert data["token"] == record.token
    assert data["type"] == 2
    assert data["version"] == 1
    assert data["data"]["name"] == "stats"
    assert data["data"]["guild_id"] == str(registered.guild_id)
    assert data["data"]["options"] == [
        {"name": "day", "type": 1, "options": [{"name": "date", "type": 3, "value": "2026-01-31"}]}
    ]
    assert int(data["member"]["permissions"]) > 0
    assert data["channel_id"] == str(registered.channel_ids["general"])


async def test_an_unregistered_command_cannot_be_invoked(registered: Sandbox) -> None:
    """Discord only offers registered commands."""
    with pytest.raises(ValueError, match="no command /ping"):
        registered.create_interaction("ping")


async def test_a_missing_required_option_is_refused(registered: Sandbox) -> None:
    """A required option must be given, as Discord's client insists."""
    with pytest.raises(ValueError, match="requires the option 'date'"):
        registered.create_interaction("stats day")


async def test_default_member_permissions_hide_a_command(registered: Sandbox) -> None:
    """A member without the command's default permissions cannot use it."""
    with pytest.raises(PermissionError):
        registered.create_interaction("health", member_permissions=EVERYONE_PERMISSIONS)


async def test_an_ephemeral_message_answer_is_recorded(registered: Sandbox, api: RestClient) -> None:
    """A type 4 callback with flags 64 is shown only to the member and journaled with its flags."""
    record = registered.create_interaction("stats now")
    body = {"type": 4, "data": {"content": "hello", "flags": EPHEMERAL}}

    answer = await api.call("POST", callback_path(record), json_body=body, token=None)

    result = registered.interaction(record.id)
    assert answer.status == 204
    assert (result.content, result.ephemeral, result.failed) == ("hello", True, False)
    (journaled,) = registered.journal.interaction_responses
    assert (journaled.action, journaled.content, journaled.flags) == ("callback:4", "hello", EPHEMERAL)


async def test_a_public_answer_is_a_channel_message(registered: Sandbox, api: RestClient) -> None:
    """A public answer appears in the channel; an ephemeral one would not."""
    record = registered.create_interaction("stats now")
    await api.call(
        "POST", callback_path(record), json_body={"type": 4, "data": {"content": "hi"}}, token=None
    )
    assert [m["content"] for m in registered.messages(registered.channel_ids["general"])] == ["hi"]


async def test_with_response_returns_the_callback_resource(registered: Sandbox, api: RestClient) -> None:
    """`?with_response=1` answers the interaction summary and the created message, as discord.py asks."""
    record = registered.create_interaction("stats now")

    answer = await api.call(
        "POST", callback_path(record), json_body={"type": 5}, params={"with_response": "1"}, token=None
    )

    assert answer.status == 200
    assert answer.body["interaction"]["response_message_loading"] is True
    assert answer.body["resource"]["message"]["flags"] & LOADING


async def test_a_deferral_is_completed_by_editing_the_original(registered: Sandbox, api: RestClient) -> None:
    """Type 5 shows "thinking"; PATCH @original replaces it with the answer and keeps it ephemeral."""
    record = registered.create_interaction("stats now")
    deferral = {"type": 5, "data": {"flags": EPHEMERAL}}
    await api.call("POST", callback_path(record), json_body=deferral, token=None)
    assert registered.interaction(record.id).loading

    edit = {"embeds": [{"title": "Stats", "fields": [{"name": "Members", "value": "5"}]}]}
    answer = await api.call("PATCH", original_path(registered, record), json_body=edit, token=None)

    result = registered.interaction(record.id)
    assert answer.status == 200
    assert (result.field("Members"), result.ephemeral, result.loading) == ("5", True, False)


async def test_an_interaction_is_acknowledged_only_once(registered: Sandbox, api: RestClient) -> None:
    """A second callback is 400 40060, as on Discord."""
    record = registered.create_interaction("stats now")
    await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)
    again = await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)
    assert (again.status, again.body["code"]) == (400, 40060)


async def test_a_late_callback_is_unknown_and_the_interaction_failed(
    registered: Sandbox, api: RestClient, clock: ManualClock
) -> None:
    """After 3 s without an answer the member sees a failure and the callback gets 404 10062."""
    record = registered.create_interaction("stats now")
    await clock.advance(3.1)
    late = await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)
    assert (late.status, late.body["code"]) == (404, 10062)
    assert registered.interaction(record.id).failed


async def test_invoke_command_reports_a_failed_interaction(registered: Sandbox, clock: ManualClock) -> None:
    """invoke_command returns `failed` when nothing acknowledges the interaction in time."""
    invoked = asyncio.create_task(registered.invoke_command("stats now"))
    for _ in range(8):  # four simulated seconds pass with nobody answering
        await clock.advance(0.5)
    result = await invoked
    assert result.failed
    assert result.messages == []


async def test_a_followup_needs_an_acknowledged_interaction(registered: Sandbox, api: RestClient) -> None:
    """Follow-ups before the callback are Unknown Webhook."""
    record = registered.create_interaction("stats now")
    path = f"/webhooks/{registered.application_id}/{record.token}"
    answer = await api.call("POST", path, json_body={"content": "late"}, token=None)
    assert (answer.status, answer.body["code"]) == (404, 10015)


async def test_deleting_the_original_leaves_only_the_followup(registered: Sandbox, api: RestClient) -> None:
    """A public "thinking" message can be deleted and replaced by a private follow-up."""
    record = registered.create_interaction("stats now")
    await api.call("POST", callback_path(record), json_body={"type": 5}, token=None)
    await api.call("DELETE", original_path(registered, record), token=None)
    followup = {"content": "sorry", "flags": EPHEMERAL}
    await api.call(
        "POST", f"/webhooks/{registered.application_id}/{record.token}", json_body=followup, token=None
    )

    result = registered.interaction(record.id)
    assert [m["content"] for m in result.messages] == ["sorry"]
    assert result.ephemeral
    assert registered.messages(registered.channel_ids["general"]) == []


async def test_the_control_api_refuses_an_unregistered_command(registered: Sandbox, session) -> None:
    """POST /commands/invoke answers 400 for a command Discord would not offer."""
    async with session.post(registered.control_url + "/commands/invoke", json={"name": "ping"}) as resp:
        assert resp.status == 400


async def test_the_control_api_refuses_a_hidden_command(registered: Sandbox, session) -> None:
    """POST /commands/invoke answers 403 when the member lacks the command's default permissions."""
    body = {"name": "health", "member_permissions": EVERYONE_PERMISSIONS}
    async with session.post(registered.control_url + "/commands/invoke", json=body) as resp:
        assert resp.status == 403
