"""The doctor's checks over Discord's JSON, and the table it prints."""

from __future__ import annotations

from typing import Any

from src.core.config import load_settings
from src.core.doctor import render
from src.services.monitoring.setup_checks import (
    ALL_PERMISSIONS,
    BAN_MEMBERS,
    CONNECT,
    EMBED_LINKS,
    MANAGE_CHANNELS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ChannelLookup,
    CheckRow,
    SetupFacts,
    Status,
    base_permissions,
    channel_permissions,
    channel_specs,
    evaluate,
)
from src.types.models import CounterSource, CounterSpec

GUILD, BOT, ROLE, OTHER_ROLE = 1000, 2000, 3000, 3001
BOT_PERMS = VIEW_CHANNEL | MANAGE_CHANNELS | CONNECT | SEND_MESSAGES | EMBED_LINKS | READ_MESSAGE_HISTORY
IDS = {"member_count": 11, "online_count": 12, "ban_count": 13, "heartbeat": 14, "stats": 15}


def _settings(**overrides: Any):
    values: dict[str, Any] = {"bot_token": "t0ken.value", **{f"{k}_channel_id": v for k, v in IDS.items()}}
    return load_settings(None, **{**values, **overrides})


def _guild(bot_perms: int = BOT_PERMS | BAN_MEMBERS) -> dict[str, Any]:
    return {
        "id": str(GUILD),
        "name": "Test Server",
        "owner_id": "1",
        "roles": [
            {"id": str(GUILD), "name": "@everyone", "permissions": "0"},
            {
                "id": str(ROLE),
                "name": "StatsBot",
                "permissions": str(bot_perms),
                "tags": {"bot_id": str(BOT)},
            },
        ],
    }


def _channel(channel_id: int, kind: int, name: str, *overwrites: dict[str, Any], guild: int = GUILD):
    return {
        "id": str(channel_id),
        "type": kind,
        "name": name,
        "guild_id": str(guild),
        "permission_overwrites": list(overwrites),
    }


def _deny(target: int, bits: int, kind: int = 0) -> dict[str, Any]:
    return {"id": str(target), "type": kind, "allow": "0", "deny": str(bits)}


def _facts(
    settings, channels: dict[int, dict[str, Any] | int], counters: Any = (), **changes: Any
) -> SetupFacts:
    """Facts where each configured channel is found (dict) or refused (HTTP status)."""
    lookups = []
    for spec in channel_specs(settings, counters):
        found = channels.get(spec.channel_id, _default(spec.channel_id))
        lookups.append(
            ChannelLookup(spec, status=found) if isinstance(found, int) else ChannelLookup(spec, data=found)
        )
    values: dict[str, Any] = {
        "bot_id": BOT,
        "bot_name": "StatsBot",
        "application_flags": 1 << 15,
        "channels": lookups,
        "guild": _guild(),
        "bot_role_ids": [ROLE],
    }
    return SetupFacts(**{**values, **changes})


def _default(channel_id: int) -> dict[str, Any]:
    is_counter = channel_id in (11, 12, 13)
    return _channel(channel_id, 2 if is_counter else 0, f"c{channel_id}")


def _rows(settings=None, channels=None, **changes) -> dict[str, CheckRow]:
    settings = settings or _settings()
    return {row.check: row for row in evaluate(settings, _facts(settings, channels or {}, **changes))}


def test_a_correct_setup_passes_every_check() -> None:
    """Voice counters, text channels, all permissions and the members intent: no failure."""
    assert all(row.status is not Status.FAIL for row in _rows().values())


def test_a_text_channel_as_counter_fails_with_the_voice_channel_fix() -> None:
    """A text channel configured as a counter names the setting and says to use a voice channel."""
    row = _rows(channels={13: _channel(13, 0, "general")})["BAN_COUNT_CHANNEL_ID"]
    assert row.status is Status.FAIL
    assert row.detail == "#general (text): a text channel cannot hold the ban counter"
    assert "create a voice channel" in row.fixes[0]
    assert "set BAN_COUNT_CHANNEL_ID to it" in row.fixes[0]


def test_every_counters_file_counter_is_checked_like_the_original_three() -> None:
    """A COUNTERS_FILE counter in a text channel fails with its own row and the voice-channel fix."""
    settings = _settings()
    bots = CounterSpec(21, "🤖 {bots}", CounterSource.FILE, setting="COUNTERS_FILE counter 1")
    facts = _facts(settings, {21: _channel(21, 0, "bots")}, counters=[bots])
    row = {r.check: r for r in evaluate(settings, facts)}["COUNTERS_FILE counter 1 channel"]
    assert row.status is Status.FAIL
    assert row.detail == "#bots (text): a text channel cannot hold the counter `🤖 {bots}`"


def test_a_deleted_counter_made_by_command_says_to_move_it_with_commands() -> None:
    """A /counter counter whose channel is gone: its row names the template, the fix the commands to run."""
    settings = _settings()
    made = CounterSpec(22, "🤖 {bots}", CounterSource.COMMAND, setting="/setup or /counter (server 1000)")
    facts = _facts(settings, {22: 404}, counters=[made])
    row = {r.check: r for r in evaluate(settings, facts)}["counter `🤖 {bots}`"]
    assert row.status is Status.FAIL
    assert (
        "/counter remove it in Discord, then /counter add the template again with a voice channel"
        in row.fixes[0]
    )


def test_a_stage_or_category_counter_is_accepted() -> None:
    """Stage channels and categories keep their names as written, so they may hold counters."""
    rows = _rows(channels={11: _channel(11, 13, "stage"), 12: _channel(12, 4, "Stats")})
    assert rows["MEMBER_COUNT_CHANNEL_ID"].status is Status.OK
    assert rows["ONLINE_COUNT_CHANNEL_ID"].status is Status.OK


def test_a_voice_channel_for_reports_fails() -> None:
    """Reports need a text channel."""
    row = _rows(channels={15: _channel(15, 2, "Lounge")})["STATS_CHANNEL_ID"]
    assert row.fixes == (
        "#Lounge is a voice channel: set STATS_CHANNEL_ID to a text channel's id "
        "(for the daily and weekly reports).",
    )


def test_a_channel_overwrite_denying_send_messages_names_the_channel_fix() -> None:
    """A role overwrite denying Send Messages is fixed in the channel's permissions."""
    row = _rows(channels={14: _channel(14, 0, "heartbeat", _deny(ROLE, SEND_MESSAGES))})[
        "HEARTBEAT_CHANNEL_ID"
    ]
    assert row.detail == "#heartbeat (text): missing Send Messages"
    assert row.fixes == (
        "Open #heartbeat > Edit Channel > Permissions, select the StatsBot role and allow Send Messages "
        "(needed for the status message).",
    )


def test_a_permission_missing_server_wide_points_at_the_role() -> None:
    """When the role itself lacks Manage Channels, the fix starts in Server Settings > Roles."""
    row = _rows(guild=_guild(BOT_PERMS & ~MANAGE_CHANNELS | BAN_MEMBERS))["MEMBER_COUNT_CHANNEL_ID"]
    assert row.fixes[0].startswith(
        "Server Settings > Roles > StatsBot: enable Manage Channels; then open #c11"
    )


def test_a_hidden_channel_says_to_allow_view_channel() -> None:
    """A 403 on the channel means the bot cannot see it."""
    row = _rows(channels={12: 403})["ONLINE_COUNT_CHANNEL_ID"]
    assert row.detail == "exists but the bot cannot see it"
    assert "allow View Channel for the StatsBot role" in row.fixes[0]


def test_a_missing_channel_says_which_setting_to_correct() -> None:
    """A 404 names the setting and how to copy a channel id."""
    row = _rows(channels={14: 404})["HEARTBEAT_CHANNEL_ID"]
    assert row.fixes[0].startswith("No channel 14 exists (or it was deleted): set HEARTBEAT_CHANNEL_ID")


def test_a_channel_of_another_server_suggests_guild_id() -> None:
    """A channel owned by another server than GUILD_ID fails and offers both ways out."""
    row = _rows(settings=_settings(guild_id=GUILD), channels={15: _channel(15, 0, "x", guild=77)})[
        "STATS_CHANNEL_ID"
    ]
    assert "in another server (77)" in row.detail
    assert "set GUILD_ID=77" in row.fixes[0]


def test_missing_ban_members_fails_with_the_role_fix() -> None:
    """Without Ban Members the ban count cannot be read."""
    row = _rows(guild=_guild(BOT_PERMS))["Ban Members"]
    assert row.status is Status.FAIL
    assert row.fixes[0].startswith("Server Settings > Roles > StatsBot: enable Ban Members")


def test_the_limited_members_flag_counts_as_enabled() -> None:
    """GATEWAY_GUILD_MEMBERS_LIMITED (1 << 15) is enough for MEMBERS_INTENT=true."""
    rows = _rows(application_flags=1 << 15)
    assert rows["MEMBERS_INTENT"].status is Status.OK
    assert rows["Privileged intents"].detail.startswith("Server Members: enabled (under 100 servers)")


def test_members_intent_without_the_flag_fails() -> None:
    """MEMBERS_INTENT=true with no members flag fails, offering both fixes."""
    row = _rows(application_flags=(1 << 12) | (1 << 18))["MEMBERS_INTENT"]
    assert row.status is Status.FAIL
    assert "Privileged Gateway Intents" in row.fixes[0]
    assert "MEMBERS_INTENT=false" in row.fixes[0]


def test_members_intent_false_needs_no_flag() -> None:
    """MEMBERS_INTENT=false passes whatever the portal says."""
    assert (
        _rows(settings=_settings(members_intent=False), application_flags=0)["MEMBERS_INTENT"].status
        is Status.OK
    )


def test_the_owner_has_every_permission() -> None:
    """The server owner's base permissions are all of them."""
    assert base_permissions({"id": "1", "owner_id": str(BOT), "roles": []}, BOT, []) == ALL_PERMISSIONS


def test_a_member_overwrite_beats_a_role_overwrite() -> None:
    """Overwrites apply @everyone, then roles, then the member."""
    allow_member = {"id": str(BOT), "type": 1, "allow": str(SEND_MESSAGES), "deny": "0"}
    channel = _channel(1, 0, "x", _deny(ROLE, SEND_MESSAGES), allow_member)
    assert channel_permissions(BOT_PERMS, channel, GUILD, BOT, {ROLE}) & SEND_MESSAGES


def test_no_view_channel_means_no_permissions() -> None:
    """A channel the bot cannot view grants it nothing."""
    channel = _channel(1, 0, "x", _deny(GUILD, VIEW_CHANNEL))
    assert channel_permissions(BOT_PERMS, channel, GUILD, BOT, set()) == 0


def test_render_aligns_the_table_and_numbers_the_fixes() -> None:
    """Columns line up and each failure's fix is listed once, numbered."""
    rows = [
        CheckRow("Token", Status.OK, "accepted"),
        CheckRow("STATS_CHANNEL_ID", Status.FAIL, "no such channel", ("Set STATS_CHANNEL_ID.",)),
    ]
    assert render(rows).splitlines() == [
        "StatsBot doctor",
        "",
        "Check             Status  Details",
        "Token             ok      accepted",
        "STATS_CHANNEL_ID  FAIL    no such channel",
        "",
        "1 problem to fix:",
        "  1. STATS_CHANNEL_ID: Set STATS_CHANNEL_ID.",
    ]


def test_render_says_all_passed_when_nothing_failed() -> None:
    """A clean run ends with "All checks passed."."""
    assert render([CheckRow("Token", Status.OK, "accepted")]).endswith("All checks passed.")
