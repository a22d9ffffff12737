"""Slash commands end to end: registered once, invoked through emulated interactions, answers checked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from src.sandbox.state import EVERYONE_PERMISSIONS
from src.types.models import DailyStats, EventKind, MemberEvent
from tests.integration.conftest import wait_until

REGISTER = r"PUT /applications/\d+/guilds/\d+/commands$"


def _registrations(sandbox) -> int:
    return len(sandbox.journal.requests_matching(REGISTER))


async def _ready(sandbox, start_bot, **overrides):
    """A started bot whose commands are registered on the sandbox guild."""
    run = await start_bot(**overrides).started()
    await wait_until(lambda: _registrations(sandbox) >= 1, timeout=5, what="the command registration")
    return run


async def test_commands_are_registered_once_and_not_again_after_a_restart(sandbox, start_bot):
    """The journal shows one registration; a restart with the same definitions does not register again."""
    run = await _ready(sandbox, start_bot)
    names = sorted(c["name"] for c in sandbox.state.commands[sandbox.guild_id])
    assert names == ["counter", "counters", "goal", "health", "setup", "stats"]
    assert await run.stop() == 0

    again = await start_bot().started()
    await wait_until(lambda: again.app.commands.registered is not None, what="the registration check")
    assert again.app.commands.registered is False
    result = await sandbox.invoke_command("stats now")  # the restarted bot answers without re-registering
    assert not result.failed
    assert await again.stop() == 0
    assert _registrations(sandbox) == 1


async def test_changed_definitions_are_registered_again(sandbox, start_bot, tmp_path):
    """A stored hash of other definitions makes the next start register the commands again."""
    run = await _ready(sandbox, start_bot)
    assert await run.stop() == 0
    state = tmp_path / "data" / "state" / "commands.json"
    state.write_text(state.read_text().replace('"definitions_sha256":"', '"definitions_sha256":"0'))

    again = await start_bot().started()
    await wait_until(lambda: _registrations(sandbox) == 2, timeout=5, what="a second registration")
    assert await again.stop() == 0


async def test_commands_removed_while_the_bot_was_away_are_registered_again(sandbox, start_bot):
    """If Discord lost the commands (the bot was re-invited), the next start registers them again."""
    run = await _ready(sandbox, start_bot)
    assert await run.stop() == 0
    sandbox.state.commands.pop(sandbox.guild_id)

    again = await start_bot().started()
    await wait_until(lambda: _registrations(sandbox) == 2, timeout=5, what="a second registration")
    result = await sandbox.invoke_command("health")
    assert not result.failed
    assert await again.stop() == 0


async def test_stats_now_shows_counts_today_and_the_last_seven_days(sandbox, start_bot):
    """/stats now answers publicly with members, online, bans, today's joins and a 7-day table."""
    run = await _ready(sandbox, start_bot)
    await sandbox.add_member(username="newcomer")
    await wait_until(lambda: run.app.stats.today().count(EventKind.JOIN) == 1, what="the join")
    await wait_until(lambda: None not in run.app.stats.current_counts().values(), what="all three counts")

    result = await sandbox.invoke_command("stats now")

    assert not result.failed
    assert not result.ephemeral
    assert result.field("Members") == f"{sandbox.member_count:,}"
    assert result.field("Online") == f"{sandbox.online_count:,}"
    assert result.field("Bans") == "25"
    assert result.field("Joins today") == "1"
    table = result.field("Last 7 days")
    assert table is not None
    assert "today" in table
    assert "Joins" in table
    assert await run.stop() == 0


async def test_stats_day_shows_a_stored_day(sandbox, start_bot, tmp_path):
    """/stats day date:YYYY-MM-DD answers with the stored day's report."""
    run = await _ready(sandbox, start_bot)
    day = datetime.now(UTC).date() - timedelta(days=3)
    joined = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=12)
    stored = DailyStats(
        date=day,
        events=[MemberEvent(kind=EventKind.JOIN, member_id="42", username="old", timestamp=joined)],
        member_count_start=900,
        member_count_end=901,
    )
    await run.app.history.save_day(stored)

    result = await sandbox.invoke_command("stats day", {"date": day.isoformat()})

    assert not result.ephemeral
    assert str(day.year) in result.embed["title"]
    assert result.field("Joins") == "1"
    assert result.field("Members") == "900 → 901"
    assert await run.stop() == 0


async def test_stats_day_refuses_a_malformed_date_privately(sandbox, start_bot):
    """A date that is not YYYY-MM-DD gets a short ephemeral message, not a failed interaction."""
    run = await _ready(sandbox, start_bot)

    result = await sandbox.invoke_command("stats day", {"date": "31/01/2026"})

    assert not result.failed
    assert result.ephemeral
    assert "is not a date like" in result.content
    assert await run.stop() == 0


async def test_stats_day_without_data_says_so(sandbox, start_bot):
    """A past day with no file is answered with a sentence saying nothing is stored."""
    run = await _ready(sandbox, start_bot)

    result = await sandbox.invoke_command("stats day", {"date": "2020-01-01"})

    assert result.content.startswith("No statistics are stored for Wednesday 1 January 2020.")
    assert await run.stop() == 0


async def test_stats_week_covers_the_last_seven_days(sandbox, start_bot):
    """/stats week answers with totals and one line per day of the last 7 days."""
    run = await _ready(sandbox, start_bot)
    await sandbox.add_member()
    await wait_until(lambda: run.app.stats.today().count(EventKind.JOIN) == 1, what="the join")

    result = await sandbox.invoke_command("stats week")

    assert result.embed["title"].startswith("📈 Last 7 days")
    assert result.field("Joins") == "1"
    per_day = result.field("Per day (joins / leaves / bans)")
    assert per_day is not None
    assert len(per_day.splitlines()) == 7
    assert await run.stop() == 0


async def test_health_is_private_and_shows_counters_and_breakers(sandbox, start_bot):
    """/health answers ephemerally with the heartbeat figures, the counters and the breakers."""
    run = await _ready(sandbox, start_bot)

    result = await sandbox.invoke_command("health")

    assert result.ephemeral
    assert result.embed["title"] == "🩺 StatsBot health"
    assert result.field("Gateway") == "connected"
    members = result.field("Members counter")
    assert members is not None
    assert f"{sandbox.member_count:,}" in members
    assert result.field("Circuit breakers") is not None
    assert result.field("Last errors") == "none"
    assert await run.stop() == 0


async def test_health_is_hidden_from_members_without_manage_server(sandbox, start_bot):
    """default_member_permissions keeps /health from a member who lacks Manage Server."""
    run = await _ready(sandbox, start_bot)
    with pytest.raises(PermissionError):
        await sandbox.invoke_command("health", member_permissions=EVERYONE_PERMISSIONS)
    assert await run.stop() == 0


async def test_counters_refresh_says_when_each_channel_renames(sandbox, start_bot):
    """/counters refresh re-reads the counts and says, privately, when each channel shows its new value."""
    run = await _ready(sandbox, start_bot)
    await wait_until(lambda: sandbox.channel_name(sandbox.channel_ids["online"]) != "Online", what="a rename")
    sandbox.set_online(123)

    result = await sandbox.invoke_command("counters refresh")

    assert result.ephemeral
    assert result.embed["title"] == "🔄 Counters refreshed"
    online = result.field("Online: 123")
    assert online is not None
    assert "🟢 Online: 123" in online
    assert "<t:" in online or online.endswith("now")
    assert await run.stop() == 0


async def test_counters_refresh_reports_a_paused_counter_with_its_fix(sandbox, start_bot):
    """A counter the bot may not rename is reported as paused with the permission to grant."""
    sandbox.set_channel_permissions(sandbox.channel_ids["bans"], manage_channels=False)
    run = await _ready(sandbox, start_bot)

    result = await sandbox.invoke_command("counters refresh")

    bans = next(f["value"] for f in result.embed["fields"] if f["name"].startswith("Bans"))
    assert "Paused (missing_permissions)" in bans
    assert "Manage Channels" in bans
    assert await run.stop() == 0


async def test_a_failing_refresh_answers_with_a_short_message(sandbox, start_bot):
    """When Discord fails the refresh, the member gets a short private message instead of a failure."""
    run = await _ready(sandbox, start_bot)
    sandbox.inject_fault(r"GET /guilds/\d+$", status=403)

    result = await sandbox.invoke_command("counters refresh")

    sandbox.clear_faults()
    assert not result.failed
    assert result.ephemeral
    assert result.content == "Discord did not answer the bot just now; please try again in a minute."
    assert await run.stop() == 0


async def test_a_failing_command_logs_one_structured_line(sandbox, start_bot):
    """A failed command leaves one `command.failed` log line naming the command and the error."""
    run = await _ready(sandbox, start_bot)
    sandbox.inject_fault(r"GET /guilds/\d+$", status=403)

    with capture_logs() as logs:
        await sandbox.invoke_command("counters refresh")

    sandbox.clear_faults()
    (failed,) = [entry for entry in logs if entry["event"] == "command.failed"]
    assert failed["command"] == "counters refresh"
    assert failed["error"].startswith("PermanentDiscordError: fetch counts")
    assert await run.stop() == 0


async def test_an_error_in_a_public_command_is_shown_only_to_the_member(sandbox, start_bot, monkeypatch):
    """A public answer that fails is replaced by a private error message; nothing public remains."""
    run = await _ready(sandbox, start_bot)

    async def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(run.app.history, "days", broken)
    general = sandbox.channel_ids["general"]

    result = await sandbox.invoke_command("stats week")

    assert result.ephemeral
    assert result.content == "Something went wrong on the bot's side; the error was logged."
    assert sandbox.messages(general) == []
    assert await run.stop() == 0


async def test_answers_never_contain_the_token(sandbox, start_bot):
    """No answer of any command includes the bot token."""
    run = await _ready(sandbox, start_bot)
    for name in ("stats now", "stats week", "health", "counters refresh"):
        await sandbox.invoke_command(name)
    token = sandbox.config.token
    assert all(token not in str(r) for r in sandbox.journal.interaction_responses)
    assert await run.stop() == 0
