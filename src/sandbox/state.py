"""The emulated guild: members and bans as id ranges, channels with overwrites, messages and commands."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from src.sandbox import ids
from src.sandbox.attachments import BOOSTED_SIZE_LIMITS, AttachmentStore
from src.sandbox.config import SandboxConfig
from src.sandbox.idsets import SparseIdSet
from src.sandbox.nonces import NonceRegistry
from src.sandbox.permission_names import PERMISSION_BITS
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

MANAGE_ROLES = 1 << PERMISSION_BITS["MANAGE_ROLES"]
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

TEXT, VOICE, CATEGORY = 0, 2, 4
CHANNEL_TYPES = (TEXT, VOICE, CATEGORY)
ROLE_OVERWRITE, MEMBER_OVERWRITE = 0, 1
MAX_CHANNELS = 500  # Discord's limit of channels (categories included) per guild
MAX_ROLES = 250
BOOST_TIERS = ((14, 3), (7, 2), (2, 1))  # boosts needed for each premium tier, highest first

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
    parent_id: int | None = None
    topic: str | None = None
    bitrate: int = 64000
    user_limit: int = 0
    overwrites: list[Overwrite] = field(default_factory=list)
    bot_allow: int = 0  # what the bot role's overwrite allows while nothing is denied
    last_message_id: int | None = None
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Role:
    """A guild role; a seeded one ("Role k") is held by a block of seeded members, computed, never stored."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    seeded_number: int | None = None  # k of "Role k"


@dataclass(frozen=True)
class UserInfo:
    """The parts of a user the sandbox varies."""

    username: str
    bot: bool = False


class GuildState:
    """One guild as Discord holds it, cheap to seed with a million members or bans.

    Seeded members carry no per-member objects: whether one is a bot and which seeded roles it holds follow
    from its index by arithmetic (`is_seeded_bot`, `seeded_role_holder`). Only members whose roles differ
    from that rule (given or stripped a role, joined with roles, left) have an entry in `_role_exceptions`.
    """

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
        self.boosts = config.boosts
        self._users: dict[int, UserInfo] = {self.bot_user_id: UserInfo("StatsBot", bot=True)}
        # The share as an exact fraction, so the bot rule and the bot count agree to the member.
        share = Fraction(config.bot_share).limit_denominator(1_000_000)
        self._bot_num, self._bot_den = share.numerator, share.denominator
        self._seeded = config.members
        self._seeded_role_count = config.seeded_roles
        self._role_block = min(config.role_members, config.members)
        self.roles: dict[int, Role] = {
            self.guild_id: Role(self.guild_id, "@everyone", EVERYONE_PERMISSIONS, position=0),
            self.bot_role_id: Role(
                self.bot_role_id, "StatsBot", BOT_ROLE_PERMISSIONS, position=1, managed=True
            ),
        }
        for number in range(1, config.seeded_roles + 1):
            role_id = ids.seeded_role_id(number)
            self.roles[role_id] = Role(role_id, f"Role {number}", position=number + 1, seeded_number=number)
        # (role id, first index of its block) of each seeded role still there: what the rule looks at.
        self._seeded_blocks = [
            (role.id, self._block_start(role.seeded_number))
            for role in self.roles.values()
            if role.seeded_number is not None
        ]
        self._role_exceptions: dict[int, frozenset[int]] = {self.bot_user_id: frozenset({self.bot_role_id})}
        self._role_counts: dict[int, int] = {r: self._role_block for r in self.roles if r != self.guild_id}
        self._role_counts[self.bot_role_id] = 1
        self._bot_members = self.seeded_bot_count(config.members) + 1  # the StatsBot itself
        self.channels: dict[int, Channel] = {}
        self.channel_ids: dict[str, int] = {}
        self.commands: dict[int | None, list[dict[str, Any]]] = {}
        self.nonces = NonceRegistry(clock)
        self.attachments = AttachmentStore()
        self._attachment_size_limit = config.attachment_size_limit
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

    def is_seeded_bot(self, index: int) -> bool:
        """Whether seeded member `index` is a bot: floor((index+1)*share) > floor(index*share)."""
        num, den = self._bot_num, self._bot_den
        return bool((index + 1) * num // den > index * num // den)

    def seeded_bot_count(self, seeded: int) -> int:
        """How many of the first `seeded` seeded members are bots: floor(seeded * share)."""
        return int(seeded * self._bot_num // self._bot_den)

    def user(self, user_id: int) -> UserInfo:
        """Return a user's name and bot flag; seeded users get generated names."""
        known = self._users.get(user_id)
        if known is not None:
            return known
        index = self.members.seeded_index(user_id)
        if index is not None:
            return UserInfo(f"member{index}", bot=self.is_seeded_bot(index))
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
        return self.seeded_joined_at(self.members.seeded_index(user_id) or 0)

    @staticmethod
    def seeded_joined_at(index: int) -> datetime:
        """When seeded member `index` joined: 30 s after the one before."""
        return ids.SEEDED_MEMBERS_JOINED + timedelta(seconds=30 * index)

    @property
    def member_count(self) -> int:
        """The exact number of members, the bot included."""
        return len(self.members)

    @property
    def bot_member_count(self) -> int:
        """The exact number of members that are bots, the StatsBot included."""
        return self._bot_members

    def add_member(
        self,
        user_id: int | None = None,
        username: str | None = None,
        bot: bool = False,
        roles: list[int] | None = None,
    ) -> int:
        """Add a member (a new user unless `user_id` is given) holding `roles`, and return its id."""
        uid = self._ids.next() if user_id is None else user_id
        if uid in self.members:
            raise ValueError(f"user {uid} is already a member")
        if uid in self.bans:
            raise ValueError(f"user {uid} is banned and cannot join")
        given = frozenset(roles or ())
        for role_id in given:
            self._assignable(role_id)
        info = self.user(uid)
        if username is not None or bot or uid not in self._users:
            # A seeded bot that rejoins stays a bot: the flag belongs to the user, not to the membership.
            self._users[uid] = UserInfo(username or info.username, bot=bot or info.bot)
        self.members.add(uid, self._clock.now())
        if given or uid in self._role_exceptions:
            self._role_exceptions[uid] = given  # a member who rejoins holds only what it is given now
        for role_id in self.member_roles(uid):
            self._role_counts[role_id] += 1
        if self.user(uid).bot:
            self._bot_members += 1
        return uid

    def remove_member(self, user_id: int) -> None:
        """Remove a member; KeyError if it is not one."""
        if user_id == self.bot_user_id:
            raise ValueError("the bot cannot leave its own sandbox")
        if user_id not in self.members:
            raise KeyError(f"user {user_id} is not a member")
        for role_id in self.member_roles(user_id):
            self._role_counts[role_id] -= 1
        if self.user(user_id).bot:
            self._bot_members -= 1
        self.members.discard(user_id)
        if self._rule_roles(user_id):
            self._role_exceptions[user_id] = frozenset()  # on Discord a member who comes back has no roles
        else:
            self._role_exceptions.pop(user_id, None)

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

    # --- roles --------------------------------------------------------------------------------------------

    def seeded_role_holder(self, index: int, number: int) -> bool:
        """Whether seeded member `index` holds "Role `number`" by the seeding rule.

        "Role k" of R is held by the `role_members` (at most `members`) seeded members whose index i has
        (i - floor((k-1) * members / R)) mod members < role_members: one block each, spread over the range.
        """
        if self._role_block == 0:
            return False
        return (index - self._block_start(number)) % self._seeded < self._role_block

    def _block_start(self, number: int) -> int:
        """The seeded index where the block of "Role `number`" starts."""
        return (number - 1) * self._seeded // max(1, self._seeded_role_count)

    def _rule_roles(self, user_id: int) -> list[int]:
        """The existing seeded roles the seeding rule gives `user_id` (none for ids outside the range)."""
        index = self.members.seeded_index(user_id)
        return [] if index is None else self.seeded_roles(index)

    def seeded_roles(self, index: int) -> list[int]:
        """The existing seeded roles the seeding rule gives seeded member `index`, ascending."""
        if self._role_block == 0:
            return []
        seeded, block = self._seeded, self._role_block
        return [role_id for role_id, start in self._seeded_blocks if (index - start) % seeded < block]

    def plain_seeded_index(self, user_id: int) -> int | None:
        """The seeded index of a member whose name, bot flag and roles all follow the seeding rule, else None.

        Such a member's payload is a function of its index alone, which lets a member chunk be written fast.
        """
        index = self.members.seeded_index(user_id)
        if index is None or user_id in self._users or user_id in self._role_exceptions:
            return None
        return index

    def member_roles(self, user_id: int) -> list[int]:
        """The ids of the roles `user_id` holds (without @everyone), ascending."""
        held = self._role_exceptions.get(user_id)
        if held is None:
            return self._rule_roles(user_id)
        return sorted(r for r in held if r in self.roles)

    def role_member_count(self, role_id: int) -> int:
        """How many members hold `role_id` (every member for @everyone); KeyError if there is no such role."""
        if role_id == self.guild_id:
            return self.member_count
        return self._role_counts[role_id]

    @property
    def role_exceptions(self) -> int:
        """How many members' roles are stored individually instead of computed (the memory actually used)."""
        return len(self._role_exceptions)

    def _assignable(self, role_id: int) -> Role:
        """The role if members can be given it; KeyError if unknown, ValueError for @everyone or managed."""
        role = self.roles[role_id]
        if role_id == self.guild_id or role.managed:
            raise ValueError(f"role {role_id} cannot be given to or taken from a member by hand")
        return role

    def set_member_role(self, user_id: int, role_id: int, held: bool) -> bool:
        """Give (`held`) or take a role; return False if the member already was that way.

        KeyError for an unknown member or role, ValueError for @everyone or a managed role.
        """
        if user_id not in self.members:
            raise KeyError(f"user {user_id} is not a member")
        self._assignable(role_id)
        current = frozenset(self.member_roles(user_id))
        if (role_id in current) == held:
            return False
        changed = current | {role_id} if held else current - {role_id}
        if changed == frozenset(self._rule_roles(user_id)):
            self._role_exceptions.pop(user_id, None)  # back to what the rule says: nothing to store
        else:
            self._role_exceptions[user_id] = changed
        self._role_counts[role_id] += 1 if held else -1
        return True

    def create_role(self, name: str, permissions: int = 0) -> Role:
        """Create a role above the others, held by nobody; ValueError past Discord's 250 roles."""
        if len(self.roles) >= MAX_ROLES:
            raise ValueError(f"a guild has at most {MAX_ROLES} roles")
        position = max(r.position for r in self.roles.values()) + 1
        role = Role(self._ids.next(), name, permissions, position=position)
        self.roles[role.id] = role
        self._role_counts[role.id] = 0
        return role

    def delete_role(self, role_id: int) -> Role:
        """Delete a role (its members lose it); KeyError if unknown, ValueError for @everyone or managed."""
        role = self._assignable(role_id)
        del self.roles[role_id]
        del self._role_counts[role_id]
        self._seeded_blocks = [(r, start) for r, start in self._seeded_blocks if r != role_id]
        for user_id, held in list(self._role_exceptions.items()):
            if role_id in held:
                self._role_exceptions[user_id] = held - {role_id}
        return role

    @property
    def bot_role_permissions(self) -> int:
        """What the bot's managed role allows server-wide."""
        return self.roles[self.bot_role_id].permissions

    def set_bot_role_permissions(self, permissions: int) -> None:
        """Change what the bot's role allows server-wide (what an admin does in Server Settings > Roles)."""
        self.roles[self.bot_role_id].permissions = permissions

    # --- boosts -------------------------------------------------------------------------------------------

    @property
    def premium_tier(self) -> int:
        """The boost level the boost count gives: 2 boosts for tier 1, 7 for tier 2, 14 for tier 3."""
        return next((tier for needed, tier in BOOST_TIERS if self.boosts >= needed), 0)

    @property
    def attachment_size_limit(self) -> int:
        """Bytes one uploaded file may have: the configured limit, raised by boost tiers 2 and 3."""
        return max(self._attachment_size_limit, BOOSTED_SIZE_LIMITS.get(self.premium_tier, 0))

    # --- channels and permissions ---------------------------------------------------------------------

    def channel(self, channel_id: int) -> Channel:
        """Return a channel; KeyError if unknown or deleted."""
        return self.channels[channel_id]

    def bot_guild_permissions(self) -> int:
        """The bot's server-level permissions: @everyone's plus its role's (all for an administrator)."""
        base = self.roles[self.guild_id].permissions | self.bot_role_permissions
        return ALL_PERMISSIONS if base & ADMINISTRATOR else base

    def bot_permissions(self, channel: Channel) -> int:
        """Compute the bot's permissions in `channel` with Discord's overwrite algorithm."""
        perms = self.bot_guild_permissions()
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
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

    def bot_overwrite_allows_manage_roles(self, channel: Channel) -> bool:
        """Whether an overwrite for the bot's role or member in `channel` allows MANAGE_ROLES explicitly."""
        return any(
            o.allow & MANAGE_ROLES
            for o in channel.overwrites
            if (o.id, o.type) in ((self.bot_role_id, ROLE_OVERWRITE), (self.bot_user_id, MEMBER_OVERWRITE))
        )

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

    def create_channel(
        self,
        name: str,
        kind: int,
        *,
        parent_id: int | None = None,
        position: int | None = None,
        overwrites: list[Overwrite] | None = None,
        topic: str | None = None,
        bitrate: int = 64000,
        user_limit: int = 0,
    ) -> Channel:
        """Create a channel with a fresh id (after the others unless `position` is given)."""
        if position is None:
            position = max((c.position for c in self.channels.values()), default=-1) + 1
        channel = Channel(
            self._ids.next(),
            kind,
            name,
            position,
            parent_id=parent_id,
            topic=topic,
            bitrate=bitrate,
            user_limit=user_limit,
            overwrites=list(overwrites or []),
        )
        self.put_overwrite(channel, None)
        self.channels[channel.id] = channel
        return channel

    def put_overwrite(self, channel: Channel, overwrite: Overwrite | None) -> None:
        """Add or replace one overwrite (None: none); remember what the bot role's one allows, for denies."""
        if overwrite is not None:
            channel.overwrites = [
                o for o in channel.overwrites if (o.id, o.type) != (overwrite.id, overwrite.type)
            ] + [overwrite]
        bot_role = next(
            (o for o in channel.overwrites if (o.id, o.type) == (self.bot_role_id, ROLE_OVERWRITE)), None
        )
        if bot_role is not None:
            channel.bot_allow = bot_role.allow

    def delete_channel(self, channel_id: int) -> Channel:
        """Delete a channel; KeyError if unknown."""
        return self.channels.pop(channel_id)

    def orphan_children(self, category_id: int) -> list[Channel]:
        """Detach the channels of a deleted category (Discord keeps them, without a parent); return them."""
        children = [c for c in self.channels.values() if c.parent_id == category_id]
        for child in children:
            child.parent_id = None
        return children

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
