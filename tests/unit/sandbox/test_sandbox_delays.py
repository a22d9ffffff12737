"""Slow answers: a delayed request takes effect at once, only its response waits on the sandbox clock."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from src.sandbox import Sandbox
from tests.clock import ManualClock
from tests.unit.sandbox.conftest import GatewayClient, RestClient, until

GUILDS, GUILD_MESSAGES = 1 << 0, 1 << 9
POST_MESSAGE = r"^POST /channels/\d+/messages$"
PROMPT = 3.0  # an answer that is not delayed arrives well within this (real seconds)


def send(api: RestClient, sandbox: Sandbox, content: str = "hello") -> asyncio.Task[Any]:
    """Start posting a message in #stats without waiting for the answer."""
    path = f"/channels/{sandbox.channel_ids['stats']}/messages"
    return asyncio.create_task(api.call("POST", path, json_body={"content": content}))


async def test_a_delayed_post_creates_the_message_before_the_answer(
    api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """The message is in the channel while the client still waits; the answer comes after the delay."""
    sandbox.delay_responses(POST_MESSAGE, 2.0)
    answer = send(api, sandbox)
    await until(lambda: clock.pending_sleepers == 1)
    stored = sandbox.messages(sandbox.channel_ids["stats"])
    waiting = not answer.done()
    await clock.advance(2.0)
    result = await asyncio.wait_for(answer, PROMPT)
    assert (waiting, [m["id"] for m in stored], result.status) == (True, [result.body["id"]], 200)


async def test_a_delayed_post_is_dispatched_before_the_answer(
    gateway: GatewayClient, api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """MESSAGE_CREATE reaches the gateway while the REST answer is still held back."""
    await gateway.identify(sandbox.config.token, GUILDS | GUILD_MESSAGES)
    await gateway.recv_until("GUILD_CREATE")
    sandbox.delay_responses(POST_MESSAGE, 2.0)
    answer = send(api, sandbox, "early")
    created = await gateway.recv_until("MESSAGE_CREATE")
    waiting = not answer.done()
    await clock.advance(2.0)
    await asyncio.wait_for(answer, PROMPT)
    assert (created["d"]["content"], waiting) == ("early", True)


async def test_the_answer_waits_the_whole_delay(
    api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """One second short of the delay the answer has not come yet."""
    sandbox.delay_responses(POST_MESSAGE, 2.0)
    answer = send(api, sandbox)
    await until(lambda: clock.pending_sleepers == 1)
    await clock.advance(1.0)
    held = (clock.pending_sleepers, answer.done())
    await clock.advance(1.0)
    await asyncio.wait_for(answer, PROMPT)
    assert held == (1, False)


async def test_a_delay_with_a_count_ends_after_that_many(
    api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """count=1 delays the first answer only; the next comes at once."""
    sandbox.delay_responses(POST_MESSAGE, 2.0, count=1)
    first = send(api, sandbox, "one")
    await until(lambda: clock.pending_sleepers == 1)
    second = await asyncio.wait_for(send(api, sandbox, "two"), PROMPT)
    await clock.advance(2.0)
    await asyncio.wait_for(first, PROMPT)
    assert second.status == 200


async def test_a_delay_with_a_duration_ends_when_it_has_passed(
    api: RestClient, sandbox: Sandbox, clock: ManualClock
) -> None:
    """After `duration` seconds of the sandbox clock, answers are prompt again."""
    sandbox.delay_responses(POST_MESSAGE, 2.0, duration=10.0)
    await clock.advance(10.0)
    answer = await asyncio.wait_for(send(api, sandbox), PROMPT)
    assert answer.status == 200


async def test_only_matching_requests_are_delayed(api: RestClient, sandbox: Sandbox) -> None:
    """A delay on message posts leaves other routes prompt."""
    sandbox.delay_responses(POST_MESSAGE, 2.0)
    answer = await asyncio.wait_for(api.call("GET", "/users/@me"), PROMPT)
    assert answer.status == 200


async def test_clear_delays_makes_answers_prompt(api: RestClient, sandbox: Sandbox) -> None:
    """clear_delays removes every delay."""
    sandbox.delay_responses(".*", 2.0)
    sandbox.clear_delays()
    answer = await asyncio.wait_for(send(api, sandbox), PROMPT)
    assert answer.status == 200


@pytest.mark.parametrize(
    ("seconds", "count", "duration"), [(0.0, None, None), (1.0, 0, None), (1.0, None, -1.0)]
)
def test_a_delay_that_cannot_apply_is_refused(
    sandbox: Sandbox, seconds: float, count: int | None, duration: float | None
) -> None:
    """Zero seconds, a count below one or a non-positive duration raise ValueError."""
    with pytest.raises(ValueError, match="must be"):
        sandbox.delay_responses(POST_MESSAGE, seconds, count=count, duration=duration)
