"""The demo's live terminal view: one screen redrawn in place, built by a pure function."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from src.demo.scenario import Step
from src.utils.text import ago, clip

CLEAR = "\x1b[H\x1b[2J"
WIDTH = 98  # characters per line: a 100-column terminal, with room for the emoji drawn two columns wide
NEWEST_SHOWN = 5
MARKS = {"done": "✓", "now": "▶", "next": "·"}
# Fields of the status embed, by the names `HeartbeatService.render` gives them; the counters' fields are the
# ones whose name ends in " counter".
TODAY_FIELDS = ("Joins today", "Leaves today", "Bans today")
PROCESS_FIELDS = ("Uptime", "CPU", "Memory", "Gateway", "Latency")
MENTION = re.compile(r"<@!?(\d+)>")


@dataclass(frozen=True)
class NewMember:
    """A member who joined, as the bot recorded the join."""

    display_name: str
    username: str
    joined_at: datetime


@dataclass
class Screen:
    """Everything the demo shows at one moment."""

    now: datetime
    remaining_s: float
    counters: dict[str, str]
    presence: str
    simulating: tuple[Step, ...] = ()
    heartbeat: dict[str, Any] | None = None  # the status message as the heartbeat channel holds it
    report: dict[str, Any] | None = None  # the newest report message in the stats channel
    goals: list[str] = field(default_factory=list)  # goal announcements in the stats channel, oldest first
    newest_members: list[NewMember] = field(default_factory=list)  # newest first
    names: dict[str, str] = field(default_factory=dict)  # display name by member id, for mentions
    renames: int = 0
    rate_limited: int = 0
    messages: int = 0
    events: int = 0


def presence_text(presence: dict[str, Any] | None) -> str:
    """The bot's status and activity as a person would read it."""
    if not presence:
        return "(not set yet)"
    activities = presence.get("activities") or []
    text = activities[0].get("name", "") if activities else ""
    return f"{presence.get('status', '?')} · Watching {text}" if text else str(presence.get("status", "?"))


def _embed(message: dict[str, Any] | None) -> dict[str, Any] | None:
    """A message's first embed, or None."""
    embeds = (message or {}).get("embeds") or []
    first = embeds[0] if embeds else None
    return first if isinstance(first, dict) else None


def _item_value(item: dict[str, Any]) -> str:
    """An embed field's value on one line."""
    return str(item.get("value", "")).replace("\n", " · ")


def _fields(embed: dict[str, Any]) -> dict[str, str]:
    """An embed's fields by name, in order, each value on one line."""
    return {str(item.get("name", "")): _item_value(item) for item in embed.get("fields") or []}


def _timestamp(embed: dict[str, Any]) -> datetime | None:
    """The embed's timestamp, or None when it has none or it does not parse."""
    try:
        return datetime.fromisoformat(str(embed["timestamp"]))
    except (KeyError, ValueError):
        return None


_RELATIVE_TIME = re.compile(r"<t:(\d+):R>")


def discord_times(text: str, now: datetime) -> str:
    """`text` with Discord's relative timestamps (`<t:1796101227:R>`) as a terminal can show them."""

    def words(match: re.Match[str]) -> str:
        seconds = round(int(match.group(1)) - now.timestamp())
        return f"in {seconds} s" if seconds > 0 else "now" if seconds == 0 else f"{-seconds} s ago"

    return _RELATIVE_TIME.sub(words, text)


def heartbeat_lines(message: dict[str, Any] | None, now: datetime) -> list[str]:
    """The status message's title and health, each counter's field, today's events and the process."""
    embed = _embed(message)
    if embed is None:
        return ["(not posted yet)"]
    fields = _fields(embed)
    head = " · ".join(str(part) for part in (embed.get("title"), embed.get("description")) if part)
    stamp = _timestamp(embed)
    if stamp is not None and stamp.tzinfo is not None:
        head += f" (updated {ago(stamp, now)})"
    lines = [head]
    # One field per counter, or one "Counters (N)" field listing them when there are many.
    lines += [
        f"{name:<16} {discord_times(value, now)}"
        for name, value in fields.items()
        if name.endswith(" counter") or name.startswith("Counters (")
    ]
    for names in (TODAY_FIELDS, PROCESS_FIELDS):
        shown = [f"{name} {fields[name]}" for name in names if name in fields]
        if shown:
            lines.append(" · ".join(shown))
    if fields.get("Alerts", "none") != "none":
        lines.append(f"Alerts: {fields['Alerts']}")
    return lines


def report_lines(message: dict[str, Any] | None, names: dict[str, str]) -> list[str]:
    """The report's title, its figures on one line, then one line per list, mentions shown as names."""
    embed = _embed(message)
    if embed is None:
        return ["(posts when the simulated midnight passes)"]
    items = embed.get("fields") or []
    figures = [f"{item.get('name')} {item.get('value')}" for item in items if item.get("inline")]
    lists = [item for item in items if not item.get("inline")]
    lines = [str(embed.get("title", ""))]
    if figures:
        lines.append(" · ".join(figures))
    for item in lists[:4]:
        # Discord shows a mention as the member's name; one the bot never recorded stays as it was posted.
        value = MENTION.sub(
            lambda m: "@" + names[m.group(1)] if m.group(1) in names else m.group(0), _item_value(item)
        )
        lines.append(f"{item.get('name')}: {value}")
    return lines


def _simulating_lines(steps: tuple[Step, ...]) -> list[str]:
    """One line per step, marked done, in progress or next."""
    return [f"  {MARKS[step.state]} {step.text}" for step in steps] or ["  (starting)"]


def _newest_lines(members: list[NewMember]) -> list[str]:
    """The newest joins by display name, with their username and when they joined."""
    if not members:
        return ["  (none recorded yet)"]
    return [
        f"  {m.display_name} (@{m.username}), joined {m.joined_at:%H:%M:%S}" for m in members[:NEWEST_SHOWN]
    ]


def _header(screen: Screen) -> str:
    """The first line: simulated time, midnight when it is near, and how long the demo has left."""
    now = screen.now
    to_midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), now.tzinfo) - now
    soon = f" · midnight in {to_midnight.total_seconds():.0f}s" if to_midnight < timedelta(hours=1) else ""
    return (
        f"StatsBot demo · {now:%Y-%m-%d %H:%M:%S %Z} (simulated){soon} · "
        f"{screen.remaining_s:.0f}s left, Ctrl-C stops"
    )


def render(screen: Screen) -> str:
    """The whole screen as text, each line cut to fit a 100-column terminal."""
    rows = [
        _header(screen),
        "",
        "Simulating:",
        *_simulating_lines(screen.simulating),
        "",
        "Counter channels (renamed within Discord's 2-per-10-minute budget, scaled 20x):",
        *(f"  {kind:<8} {name}" for kind, name in screen.counters.items()),
        f"Presence: {screen.presence}",
        "",
        "Status message in the heartbeat channel:",
        *(f"  {line}" for line in heartbeat_lines(screen.heartbeat, screen.now)),
        "",
        "Newest members (as the bot recorded their joins):",
        *_newest_lines(screen.newest_members),
        "",
        "Latest report in the stats channel:",
        *(f"  {line}" for line in report_lines(screen.report, screen.names)),
        "Goal announcements (/goal set, each posted once): " + ("; ".join(screen.goals) or "none yet"),
        "",
        f"Renames {screen.renames} · rename 429s {screen.rate_limited} · "
        f"messages posted {screen.messages} · events recorded {screen.events}",
    ]
    return "\n".join(clip(row, WIDTH) for row in rows)
