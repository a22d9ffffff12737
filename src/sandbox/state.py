"""The emulated guild: members and bans as id ranges, channels with overwrites, messages and commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from src.sandbox import ids
from src.sandbox.config import SandboxConfig
from src.sandbox.idsets import SparseIdSet
from src.sandbox.nonces import NonceRegistry
from src.types.permissions import (
    ADD_REACTIONS,
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    BAN_MEMBERS,
    CHANGE_NICKNAME,
    CONNECT,
    CREATE_INSTANT_INVITE,
    EMBED_LINKS,
    MANAGE_CHANNELS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    SPEAK,
    USE_VAD,
    VIEW_CHANNEL,
)
from src.types.ports import Clock

EVERYONE_PERMISSIONS = (
    CREATE_INSTANT_INVITE
    | ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | CONNECT
    | SPEAK
    | USE_VAD
    | CHANGE_NICKNAME
)
BOT_ROLE_PERMISSIONS = (
    VIEW_CHANNEL
    | MANAGE_CHANNELS
    | CONNECT
    | SEND_MESSAGES
    | EMBED_LINKS
    | READ_MESSAGE_HISTORY
    | BAN_MEMBERS
)

TEXT, VOICE = 0, 2
ROLE_OVERWRITE, MEMBER_OVERWRITE = 0, 1

# (key, type, initial name). Counter channels are voice channels nobody may join, as counter bots set them up.
SEEDED_CHANNELS = (
    ("members", VOICE, "Members"),
    ("online", VOICE, "Online"),
    ("bans", VOICE, "Bans"),
    ("heartbeat", TEXT, "heartbeat"),
    ("stats", TEXT, "stats"),
    ("general", TEXT, "general"),
)
COUNTER_BOT_ALLOW = VIEW_CHANNEL | CONNECT | MANAGE_CHANNELS


@dataclass
class Overwrite:
    """A channel permission overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    """One guild channel and its messages (kept in creation order, i.e. ascending id)."""

    id: int
    type: int
    name: str
    position: int
    topic: str | None = None
    bitrate: int = 64000
    user_limit: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    bot_allow: int = 0  # what the bot role's overwrite allows while nothing is denied
    last_message_id: int | None = None
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class UserInfo:
    """The parts of a user the sandbox varies."""

    username: str
    bot: bool = False


class GuildState:
    """One guild as Discord holds it, cheap to seed with a million members or bans."""

    def __init__(self, config: SandboxConfig, clock: Clock, snowflakes: ids.SnowflakeFactory) -> None:
        self._clock = clock
        self._ids = snowflakes
        self.guild_id = ids.GUILD_ID
        self.name = "Sandbox Community"
        self.bot_user_id = ids.BOT_USER_ID
        self.application_id = ids.APPLICATION_ID
        self.bot_role_id = ids.BOT_ROLE_ID
        self.members: SparseIdSet[datetime] = SparseIdSet(ids.SEEDED_MEMBERS_START, config.members)
        self.members.add(self.bot_user_id, ids.BOT_JOINED)
        self.bans: SparseIdSet[str | None] = SparseIdSet(ids.SEEDED_BANS_START, config.bans)
        self.owner_id = ids.SEEDED_MEMBERS_START if config.members else self.bot_user_id
        self.online = round(config.members * config.online_share)
        self._users: dict[int, UserInfo] = {self.bot_user_id: UserInfo("StatsBot", bot=True)}
        self.channels: dict[int, Channel] = {}
        self.channel_ids: dict[str, int] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.nonces = NonceRegistry(clock)
        for index, (key, kind, name) in enumerate(SEEDED_CHANNELS):
            channel = Channel(ids.channel_id(index), kind, name, position=index)
            if kind == VOICE:
                channel.bot_allow = COUNTER_BOT_ALLOW
                channel.overwrites = [
                    Overwrite(self.guild_id, ROLE_OVERWRITE, deny=CONNECT),
                    Overwrite(self.bot_role_id, ROLE_OVERWRITE, allow=COUNTER_BOT_ALLOW),
                ]
            self.channels[channel.id] = channel
            self.channel_ids[key] = channel.id

    # --- users, members, bans ---------------------------------------------------------------------------

    def user(self, user_id: int) -> UserInfo:
        """Return a user's name and bot flag; seeded users get generated names."""
        known = self._users.get(user_id)
        if known is not None:
            return known
        index = self.members.seeded_index(user_id)
        if index is not None:
            return UserInfo(f"member{index}")
        index = self.bans.seeded_index(user_id)
        if index is not None:
            return UserInfo(f"banned{index}")
        return UserInfo(f"user{user_id}")

    def knows_user(self, user_id: int) -> bool:
        """Whether the user exists as far as this guild can tell (member, banned or seen before)."""
        return user_id in self._users or user_id in self.members or user_id in self.bans

    def joined_at(self, user_id: int) -> datetime:
        """Return when a member joined (seeded members joined 30 s apart)."""
        joined = self.members.value(user_id)
        if joined is not None:
            return joined
        index = self.members.seeded_index(user_id) or 0
        return ids.SEEDED_MEMBERS_JOINED + timedelta(seconds=30 * index)

    @property
    def member_count(self) -> int:
        """The exact number of members, the bot included."""
        return len(self.members)

    def add_member(self, user_id: int | None = None, username: str | None = None, bot: bool = False) -> int:
        """Add a member (a new user unless `user_id` is given) and return its id."""
        uid = self._ids.next() if user_id is None else user_id
        if uid in self.members:
            raise ValueError(f"user {uid} is already a member")
        if uid in self.bans:
            raise ValueError(f"user {uid} is banned and cannot join")
        if username is not None or bot or uid not in self._users:
            self._users[uid] = UserInfo(username or self.user(uid).username, bot=bot)
        self.members.add(uid, self._clock.now())
        return uid

    def remove_member(self, user_id: int) -> None:
        """Remove a member; KeyError if it is not one."""
        if user_id == self.bot_user_id:
            raise ValueError("the bot cannot leave its own sandbox")
        if not self.members.discard(user_id):
            raise KeyError(f"user {user_id} is not a member")

    def ban(self, user_id: int, reason: str | None = None) -> bool:
        """Ban a user; return False if already banned."""
        if user_id == self.bot_user_id:
            raise ValueError("the bot cannot be banned")
        return self.bans.add(user_id, reason)

    def unban(self, user_id: int) -> None:
        """Lift a ban; KeyError if the user is not banned."""
        if not self.bans.discard(user_id):
            raise KeyError(f"user {user_id} is not banned")

    def ban_reason(self, user_id: int) -> str | None:
        """Return the stored reason of a ban (None for seeded bans)."""
        return self.bans.value(user_id)

    # --- channels and permissions ---------------------------------------------------------------------

    def channel(self, channel_id: int) -> Channel:
        """Return a channel; KeyError if unknown or deleted."""
        return self.channels[channel_id]

    def bot_permissions(self, channel: Channel) -> int:
        """Compute the bot's permissions in `channel` with Discord's overwrite algorithm."""
        base = EVERYONE_PERMISSIONS | BOT_ROLE_PERMISSIONS
        if base & ADMINISTRATOR:
            return ALL_PERMISSIONS
        perms = base
        by_id = {(o.id, o.type): o for o in channel.overwrites}
        everyone = by_id.get((self.guild_id, ROLE_OVERWRITE))
        if everyone is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        role = by_id.get((self.bot_role_id, ROLE_OVERWRITE))
        if role is not None:
            perms = (perms & ~role.deny) | role.allow
        member = by_id.get((self.bot_user_id, MEMBER_OVERWRITE))
        if member is not None:
            perms = (perms & ~member.deny) | member.allow
        return perms

    def set_bot_denies(self, channel: Channel, deny: int) -> None:
        """Deny `deny` to the bot's role on `channel` (0 restores the channel's default overwrite)."""
        overwrite = next(
            (o for o in channel.overwrites if o.id == self.bot_role_id and o.type == ROLE_OVERWRITE), None
        )
        if overwrite is None:
            overwrite = Overwrite(self.bot_role_id, ROLE_OVERWRITE)
            channel.overwrites.append(overwrite)
        overwrite.deny = deny
        overwrite.allow = channel.bot_allow & ~deny
        if not overwrite.allow and not overwrite.deny:
            channel.overwrites.remove(overwrite)

    def delete_channel(self, channel_id: int) -> Channel:
        """Delete a channel; KeyError if unknown."""
        return self.channels.pop(channel_id)

    # --- messages -----------------------------------------------------------------------------------------

    def store_message(self, channel: Channel, message: dict[str, Any]) -> None:
        """Keep a created message (its "id" is a string snowflake)."""
        message_id = int(message["id"])
        channel.messages[message_id] = message
        channel.last_message_id = message_id

    def next_id(self) -> int:
        """Return a fresh snowflake."""
        return self._ids.next()

    def now(self) -> datetime:
        """Return the clock's wall time."""
        return self._clock.now()

    # --- application commands ----------------------------------------------------------------------------

    def put_commands(self, guild_id: int | None, commands: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Replace the commands of a scope (None = global), keeping ids of commands that stay."""
        old = {(c["name"], c.get("type", 1)): c["id"] for c in self.commands.get(guild_id, [])}
        stored = []
        for command in commands:
            kind = command.get("type", 1)
            record = {
                "id": old.get((command["name"], kind)) or str(self._ids.next()),
                "application_id": str(self.application_id),
                "version": str(self._ids.next()),
                "type": kind,
                "name": command["name"],
                "description": command.get("description", ""),
                "options": command.get("options", []),
                "default_member_permissions": command.get("default_member_permissions"),
                "nsfw": command.get("nsfw", False),
                "contexts": command.get("contexts"),
                "integration_types": command.get("integration_types", [0]),
                "name_localizations": command.get("name_localizations"),
                "description_localizations": command.get("description_localizations"),
            }
            if guild_id is None:
                record["dm_permission"] = command.get("dm_permission", True)
            else:
                record["guild_id"] = str(guild_id)
            stored.append(record)
        self.commands[guild_id] = stored
        return stored
