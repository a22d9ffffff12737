"""When a counter channel cannot show a counter, and what the operator should do about it.

Each function returns a value (a `Pause`, or None to go on); the worker decides what to do with it. A
paused channel is never renamed until re-checked, so a wrong channel id cannot loop into Discord's
invalid-request ban (10,000 401/403/429 answers in 10 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

from src.core.exceptions import PermanentDiscordError
from src.types.ports import ChannelInfo, ChannelKind

# Discord keeps capitals, spaces, ':' and emoji in these; text-like channels are lower-cased and hyphenated.
RENAMEABLE_KINDS = frozenset({ChannelKind.VOICE, ChannelKind.STAGE, ChannelKind.CATEGORY})


@dataclass(frozen=True, slots=True)
class Pause:
    """Why a counter stopped renaming, the fix to log and show, and the error behind it if any."""

    reason: str
    fix: str
    error: str | None = None


def permissions_fix(channel_id: int) -> str:
    """Return the fix text for a counter channel the bot may not rename."""
    return f"give the bot Manage Channels, View Channel and Connect on channel {channel_id}"


def pause_for_channel(info: ChannelInfo) -> Pause | None:
    """Return why `info` cannot show a counter, or None when it can be renamed."""
    channel_id = info.channel_id
    if info.kind is ChannelKind.TEXT:
        return Pause(
            "text_channel",
            f"use a voice channel for channel {channel_id}: Discord lower-cases and hyphenates "
            "text channel names",
        )
    if info.kind not in RENAMEABLE_KINDS:
        return Pause(
            "unsupported_channel",
            f"use a voice channel (or a category) for channel {channel_id}: Discord rewrites "
            f"{info.kind.value} channel names",
        )
    if not info.can_rename:
        return Pause("missing_permissions", permissions_fix(channel_id))
    return None


def pause_for_missing(channel_id: int, setting: str | None, exc: PermanentDiscordError) -> Pause:
    """Return the pause for a channel Discord says does not exist or the bot cannot see."""
    if setting is None:  # made by a command: moved by commands too
        fix = (
            f"channel {channel_id} does not exist or the bot cannot see it: give the bot View Channel on it, "
            "or /counter remove it and /counter add it to another channel"
        )
    else:
        fix = (
            f"channel {channel_id} does not exist or the bot cannot see it: check {setting} "
            "and give the bot View Channel on it"
        )
    return Pause("channel_not_found", fix, str(exc))


def pause_for_template(error: str) -> Pause:
    """Return the pause for a counter whose template cannot be used."""
    return Pause("bad_template", f"fix the counter's template: {error}")


def pause_for_members_intent(keys: str) -> Pause:
    """Return the pause for a counter showing values that need the Server Members intent."""
    return Pause(
        "needs_members_intent",
        f"{keys} need the Server Members intent: set MEMBERS_INTENT=true and enable Server Members Intent "
        "in the Developer Portal (Applications > your app > Bot)",
    )


def pause_for_rejection(channel_id: int, exc: PermanentDiscordError) -> Pause:
    """Return the pause for a rename Discord refused although the channel looked renameable."""
    return Pause("rename_rejected", exc.fix or permissions_fix(channel_id), str(exc))


NO_GOAL = "no_goal"


def pause_for_no_goal() -> Pause:
    """Return the pause for a counter showing `{goal}` while no goal is set."""
    return Pause(NO_GOAL, "set a member goal with /goal set, or /counter edit this counter without {goal}")
