"""The demo's screen fed by the real bot and sandbox: what a new user sees once events are recorded."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from src.demo import add_demo_counters, current_screen
from src.demo.scenario import Community
from src.demo.view import render
from src.sandbox import Sandbox

from .conftest import wait_until

pytestmark = pytest.mark.integration


async def test_new_members_appear_by_display_name_once_the_bot_records_their_joins(
    sandbox: Sandbox, start_bot, tmp_path: Path
) -> None:
    """Members who join show on the screen by display name and username, newest first."""
    run = await start_bot().started()
    await asyncio.wait_for(run.app.commands.synced.wait(), 10.0)
    counters = {kind: sandbox.channel_ids[kind] for kind in ("members", "online", "bans")}
    counters |= await add_demo_counters(sandbox)
    for username in ("ada.moss", "bea.lin"):
        await sandbox.add_member(username=username)

    def screen_text() -> str:
        screen = current_screen(
            sandbox,
            Community(sandbox),
            datetime.now(UTC),
            10.0,
            tmp_path / "data",
            run.app.heartbeat.message_id,
            counters,
        )
        return render(screen)

    text = await wait_until(
        lambda: "Bea.Lin (@bea.lin)" in (t := screen_text()) and t, what="the joins on screen"
    )
    assert text.index("Bea.Lin (@bea.lin), joined") < text.index("Ada.Moss (@ada.moss), joined")
    bots, members = sandbox.bot_member_count, sandbox.member_count
    await wait_until(
        lambda: (
            f"  goal     🎯 {members:,} / 5,250" in (t := screen_text())
            and f"  bots     🤖 {bots} bots · 🧑 {members - bots:,}" in t
        ),
        what="the counters added with /counter add",
    )
