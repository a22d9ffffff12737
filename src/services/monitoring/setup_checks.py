"""What `python -m src doctor` checks, as pure functions over the JSON Discord returned.

Each check becomes one row (ok, FAIL or info) and every failure carries the exact fix, naming the
setting, the channel and the permission involved.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any

from src.core.config import Settings
from src.types.models import CounterSource, CounterSpec
from src.types.permissions import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    BAN_MEMBERS,
    CONNECT,
    EMBED_LINKS,
    MANAGE_CHANNELS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
)

# Application flags (GET /oauth2/applications/@me): each privileged intent, fully or below 100 servers.
INTENT_FLAGS = {
    "Server Members": (1 << 14, 1 << 15),
    "Presence": (1 << 12, 1 << 13),
    "Message Content": (1 << 18, 1 << 19),
}
CHANNEL_TYPES = {
    0: "text",
    2: "voice",
    4: "category",
    5: "announcement",
    13: "stage",
    15: "forum",
    16: "media",
}
COPY_ID = "Developer Mode on, right-click the channel > Copy Channel ID"
PORTAL_INTENTS = "https://discord.com/developers/applications > your app > Bot > Privileged Gateway Intents"


class Use(Enum):
    """What a configured channel is for, which decides its type and permissions."""

    COUNTER = "counter"
    POSTS = "posts"


NEEDED: dict[Use, tuple[tuple[str, int], ...]] = {
    Use.COUNTER: (("View Channel", VIEW_CHANNEL), ("Manage Channels", MANAGE_CHANNELS), ("Connect", CONNECT)),
    Use.POSTS: (
        ("View Channel", VIEW_CHANNEL),
        ("Send Messages", SEND_MESSAGES),
        ("Embed Links", EMBED_LINKS),
        ("Read Message History", READ_MESSAGE_HISTORY),
    ),
}
# Counters keep capitals, spaces and emoji only outside text-like channels (the counter service agrees).
ALLOWED_TYPES = {Use.COUNTER: frozenset({2, 13, 4}), Use.POSTS: frozenset({0, 5})}


class Status(StrEnum):
    """A row's verdict."""

    OK = "ok"
    FAIL = "FAIL"
    INFO = "info"


@dataclass(frozen=True)
class CheckRow:
    """One line of the doctor's table, with a fix for every problem found."""

    check: str
    status: Status
    detail: str
    fixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChannelSpec:
    """A configured channel: the setting naming it, its id, what it is for, and how to point it elsewhere."""

    setting: str
    channel_id: int
    use: Use
    purpose: str
    moved_by_command: bool = False  # a /counter counter: moved in Discord, not by editing a setting

    def point_at(self, by_id: str, by_channel: str) -> str:
        """Return the fix's words for using another channel: "set BAN_COUNT_CHANNEL_ID to <by_id>"."""
        if self.moved_by_command:
            return f"/counter remove it in Discord, then /counter add the template again with {by_channel}"
        return f"set {self.setting} to {by_id}"


@dataclass(frozen=True)
class ChannelLookup:
    """What `GET /channels/{id}` gave: the channel, or the HTTP status that refused it."""

    spec: ChannelSpec
    data: dict[str, Any] | None = None
    status: int | None = None  # 404: no such channel, 403: the bot cannot see it


@dataclass(frozen=True)
class SetupFacts:
    """Everything the doctor fetched over REST after logging in."""

    bot_id: int
    bot_name: str
    application_flags: int
    channels: list[ChannelLookup]
    guild: dict[str, Any] | None = None  # GET /guilds/{id}, with roles and owner_id
    guild_status: int | None = None
    bot_role_ids: list[int] = field(default_factory=list)


def channel_specs(settings: Settings, counters: Sequence[CounterSpec] = ()) -> list[ChannelSpec]:
    """The channels the settings (and `counters` from COUNTERS_FILE) name, in the order the table shows."""
    originals = (
        ("MEMBER_COUNT_CHANNEL_ID", settings.member_count_channel_id, "member counter"),
        ("ONLINE_COUNT_CHANNEL_ID", settings.online_count_channel_id, "online counter"),
        ("BAN_COUNT_CHANNEL_ID", settings.ban_count_channel_id, "ban counter"),
    )
    specs = [
        *(
            ChannelSpec(name, cid, Use.COUNTER, purpose)
            for name, cid, purpose in originals
            if cid is not None
        ),
        *(_counter_spec(c) for c in counters if c.source is not CounterSource.ENVIRONMENT),
        ChannelSpec("HEARTBEAT_CHANNEL_ID", settings.heartbeat_channel_id, Use.POSTS, "status message"),
        ChannelSpec("STATS_CHANNEL_ID", settings.stats_channel_id, Use.POSTS, "daily and weekly reports"),
    ]
    if settings.alert_channel_id:
        specs.append(ChannelSpec("ALERT_CHANNEL_ID", settings.alert_channel_id, Use.POSTS, "alerts"))
    return specs


def _counter_spec(counter: CounterSpec) -> ChannelSpec:
    """The channel check of a counter from COUNTERS_FILE or from /counter, with its own way to move it."""
    purpose = f"counter `{counter.template}`"
    if counter.source is CounterSource.COMMAND:
        return ChannelSpec(
            f"counter `{counter.template}`",
            counter.channel_id,
            Use.COUNTER,
            purpose,
            moved_by_command=True,
        )
    return ChannelSpec(f"{counter.setting} channel", counter.channel_id, Use.COUNTER, purpose)


def target_guild_id(settings: Settings, channels: Iterable[ChannelLookup]) -> int | None:
    """GUILD_ID, or the server owning the first channel found (the bot does the same at start-up)."""
    if settings.guild_id:
        return settings.guild_id
    return next((int(c.data["guild_id"]) for c in channels if c.data and c.data.get("guild_id")), None)


def base_permissions(guild: dict[str, Any], user_id: int, role_ids: Iterable[int]) -> int:
    """Server-wide permissions: @everyone plus the member's roles; the owner and administrators have all."""
    if int(guild.get("owner_id") or 0) == user_id:
        return ALL_PERMISSIONS
    wanted = {int(guild["id"]), *role_ids}
    perms = 0
    for role in guild.get("roles", []):
        if int(role["id"]) in wanted:
            perms |= int(role["permissions"])
    return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms


def channel_permissions(
    base: int, channel: dict[str, Any], guild_id: int, user_id: int, roles: set[int]
) -> int:
    """Discord's overwrite order: @everyone, then the member's roles together, then the member."""
    if base & ADMINISTRATOR:
        return ALL_PERMISSIONS
    overwrites = {(int(o["id"]), int(o["type"])): o for o in channel.get("permission_overwrites", [])}
    perms = base
    everyone = overwrites.get((guild_id, 0))
    if everyone:
        perms = (perms & ~int(everyone["deny"])) | int(everyone["allow"])
    deny = allow = 0
    for (target, kind), overwrite in overwrites.items():
        if kind == 0 and target in roles and target != guild_id:
            deny, allow = deny | int(overwrite["deny"]), allow | int(overwrite["allow"])
    perms = (perms & ~deny) | allow
    member = overwrites.get((user_id, 1))
    if member:
        perms = (perms & ~int(member["deny"])) | int(member["allow"])
    # Without View Channel every other permission in the channel is moot.
    return perms if perms & VIEW_CHANNEL else 0


def _bot_role(facts: SetupFacts) -> str:
    """The name of the bot's own (managed) role as Server Settings > Roles lists it."""
    for role in (facts.guild or {}).get("roles", []):
        if str((role.get("tags") or {}).get("bot_id")) == str(facts.bot_id):
            return str(role["name"])
    return "the bot's role"


def _role_name(facts: SetupFacts) -> str:
    """The bot's role as a phrase: "the StatsBot role"."""
    name = _bot_role(facts)
    return name if name == "the bot's role" else f"the {name} role"


def _type_fix(spec: ChannelSpec, name: str, kind: str) -> str:
    if spec.use is Use.COUNTER and kind in ("text", "announcement", "forum", "media"):
        move = spec.point_at("it", "that channel")
        return (
            f"#{name} is a {kind} channel, and Discord lower-cases and hyphenates those names: create "
            f"a voice channel (deny Connect to @everyone), copy its id ({COPY_ID}) and {move}."
        )
    if spec.use is Use.COUNTER:
        channel = spec.point_at("a voice or stage channel's id", "a voice or stage channel")
        return f"#{name} is a {kind} channel: {channel}."
    channel = spec.point_at("a text channel's id", "a text channel")
    return f"#{name} is a {kind} channel: {channel} (for the {spec.purpose})."


def check_channel(lookup: ChannelLookup, facts: SetupFacts, guild_id: int | None) -> CheckRow:
    """Exists, belongs to the server, has the right type, and the bot has what the feature needs."""
    spec, data = lookup.spec, lookup.data
    if data is None:
        if lookup.status == 403:
            move = spec.point_at("another channel", "another channel")
            fix = (
                f"The bot cannot see channel {spec.channel_id}: open it > Edit Channel > Permissions and "
                f"allow View Channel for {_role_name(facts)}, or {move}."
            )
            return CheckRow(spec.setting, Status.FAIL, "exists but the bot cannot see it", (fix,))
        fix = (
            f"No channel {spec.channel_id} exists (or it was deleted): "
            f"{spec.point_at(f'the id of the {spec.purpose} channel ({COPY_ID})', 'a voice channel')}."
        )
        detail = "no such channel" if lookup.status == 404 else f"Discord answered HTTP {lookup.status}"
        return CheckRow(spec.setting, Status.FAIL, detail, (fix,))
    name, kind = str(data.get("name", "?")), CHANNEL_TYPES.get(int(data["type"]), f"type {data['type']}")
    facts_seen = [f"#{name} ({kind})"]
    problems, fixes = [], []
    owner = int(data.get("guild_id") or 0)
    if guild_id is not None and owner != guild_id:
        problems.append(f"in another server ({owner})")
        fixes.append(
            f"Channel {spec.channel_id} belongs to server {owner}, not {guild_id}: use a channel of server "
            f"{guild_id}, or set GUILD_ID={owner} if that is the server to watch."
        )
    if int(data["type"]) not in ALLOWED_TYPES[spec.use]:
        problems.append(f"a {kind} channel cannot hold the {spec.purpose}")
        fixes.append(_type_fix(spec, name, kind))
    if facts.guild is not None and guild_id is not None:
        roles = set(facts.bot_role_ids)
        base = base_permissions(facts.guild, facts.bot_id, roles)
        perms = channel_permissions(base, data, guild_id, facts.bot_id, roles)
        missing = [label for label, bit in NEEDED[spec.use] if not perms & bit]
        if missing:
            problems.append("missing " + ", ".join(missing))
            server_wide = [label for label, bit in NEEDED[spec.use] if not base & bit]
            where = (
                f"Server Settings > Roles > {_bot_role(facts)}: enable {', '.join(server_wide)}; then open"
                if server_wide
                else "Open"
            )
            fixes.append(
                f"{where} #{name} > Edit Channel > Permissions, select {_role_name(facts)} and allow "
                f"{', '.join(missing)} (needed for the {spec.purpose})."
            )
        else:
            facts_seen.append(", ".join(label for label, _ in NEEDED[spec.use]) + " granted")
    if problems:
        return CheckRow(spec.setting, Status.FAIL, f"#{name} ({kind}): " + "; ".join(problems), tuple(fixes))
    return CheckRow(spec.setting, Status.OK, ": ".join(facts_seen))


def check_server(facts: SetupFacts, guild_id: int | None) -> CheckRow:
    """The server to watch is known and the bot is in it."""
    if guild_id is None:
        fix = "Set GUILD_ID to the server's id, or fix MEMBER_COUNT_CHANNEL_ID so its server can be found."
        return CheckRow("Server", Status.FAIL, "cannot tell which server to watch", (fix,))
    if facts.guild is None:
        fix = (
            f"Invite the bot to server {guild_id} (Developer Portal > OAuth2 > URL Generator, scope bot, "
            "with the permissions listed in the README), or correct GUILD_ID."
        )
        return CheckRow("Server", Status.FAIL, f"the bot is not in server {guild_id}", (fix,))
    return CheckRow("Server", Status.OK, f"{facts.guild.get('name', '?')} (id {guild_id})")


def check_ban_members(facts: SetupFacts) -> CheckRow:
    """Ban Members is needed to read the ban list for the ban count."""
    if facts.guild is None:
        return CheckRow("Ban Members", Status.INFO, "not checked: the server is unknown")
    if base_permissions(facts.guild, facts.bot_id, facts.bot_role_ids) & BAN_MEMBERS:
        return CheckRow("Ban Members", Status.OK, "granted: the ban count can be read")
    fix = (
        f"Server Settings > Roles > {_bot_role(facts)}: enable Ban Members (StatsBot only reads the ban "
        "list, to count it)."
    )
    return CheckRow("Ban Members", Status.FAIL, "missing: the ban counter cannot count bans", (fix,))


def intent_state(flags: int, name: str) -> str:
    """How the portal has a privileged intent: enabled, enabled below 100 servers, or off."""
    full, limited = INTENT_FLAGS[name]
    if flags & full:
        return "enabled"
    return "enabled (under 100 servers)" if flags & limited else "off"


def check_intents(settings: Settings, facts: SetupFacts) -> list[CheckRow]:
    """Which privileged intents the application has, and whether MEMBERS_INTENT can be honoured."""
    states = {name: intent_state(facts.application_flags, name) for name in INTENT_FLAGS}
    summary = CheckRow("Privileged intents", Status.INFO, ", ".join(f"{k}: {v}" for k, v in states.items()))
    members_on = states["Server Members"] != "off"
    if not settings.members_intent:
        extra = " (it is enabled: MEMBERS_INTENT=true would record them)" if members_on else ""
        row = CheckRow("MEMBERS_INTENT", Status.OK, f"false: not needed; join/leave lists stay empty{extra}")
    elif members_on:
        row = CheckRow("MEMBERS_INTENT", Status.OK, "true, and the Server Members intent is enabled")
    else:
        fix = (
            f"Turn on Server Members Intent at {PORTAL_INTENTS}, or set MEMBERS_INTENT=false (join/leave "
            "lists then stay empty); until then the bot cannot connect (close code 4014)."
        )
        row = CheckRow("MEMBERS_INTENT", Status.FAIL, "true, but the Server Members intent is off", (fix,))
    return [summary, row]


def evaluate(settings: Settings, facts: SetupFacts) -> list[CheckRow]:
    """Every check after a successful login, in table order."""
    guild_id = target_guild_id(settings, facts.channels)
    return [
        CheckRow("Token", Status.OK, f"accepted: logged in as {facts.bot_name} (id {facts.bot_id})"),
        check_server(facts, guild_id),
        *(check_channel(lookup, facts, guild_id) for lookup in facts.channels),
        check_ban_members(facts),
        *check_intents(settings, facts),
    ]
