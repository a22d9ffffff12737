"""Counters made from inside Discord: `/setup` and `/counter add|edit|remove`, kept in `state/counters.json`.

The file is keyed by guild id, so several servers in one process later need no migration. Counters from the
environment or COUNTERS_FILE are shown beside these but never changed here: they are the operator's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from src.core.exceptions import PermanentDiscordError, StoreError
from src.services.stats.counter_board import role_of
from src.services.stats.counters import CounterService
from src.services.stats.templates import CounterTemplate
from src.types.models import ChannelStats, CounterSource, CounterSpec
from src.types.permissions import CONNECT, MANAGE_CHANNELS, VIEW_CHANNEL
from src.types.ports import ChannelAdmin, ChannelInfo, ChannelKind, JsonStore, Overwrite
from src.utils.logging import get_logger

STATE_FILE = "state/counters.json"
SCHEMA_VERSION = 1
CATEGORY_NAME = "📊 Server Stats"
# What /setup creates, in sidebar order: the original bot's three counters.
DEFAULT_COUNTERS = ("👥 Members: {members:,}", "🟢 Online: {online:,}", "🔨 Bans: {bans:,}")
BOT_ALLOW = VIEW_CHANNEL | CONNECT | MANAGE_CHANNELS
MANAGE_CHANNELS_FIX = (
    "give StatsBot's role Manage Channels (Server Settings > Roles), or create voice channels yourself and "
    "use /counter add with their channel"
)
# Each counter renames up to twice per 10 minutes: many of them would crowd the guild's REST budget and the
# sidebar, and /counter list shows 25 at most.
MAX_COUNTERS = 25


class CounterAdminError(ValueError):
    """A request that cannot be done; str(exc) is the message for the Discord user."""


@dataclass
class SetupReport:
    """What `/setup` did: channels created, counters already there, and what it could not do (with fixes)."""

    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class CounterAdmin:
    """Adds, edits and removes command-made counters of one guild and remembers them across restarts."""

    def __init__(self, port: ChannelAdmin, store: JsonStore, counters: CounterService) -> None:
        self._port = port
        self._store = store
        self._counters = counters
        self._guild_id: int | None = None
        self._category_id: int | None = None
        self._shadowed: list[Any] = []  # saved entries whose channel another source's counter holds
        self._document: dict[str, Any] = {"schema_version": SCHEMA_VERSION, "guilds": {}}
        self._log = get_logger(__name__, service="stats")

    async def load(self, guild_id: int) -> None:
        """Read the guild's command-made counters and hand them to the counter service (before it starts)."""
        self._guild_id = guild_id
        try:
            data = await self._store.read(STATE_FILE)
        except StoreError as exc:
            self._log.error("counters.state_unreadable", file=STATE_FILE, error=str(exc))
            data = None
        if isinstance(data, dict) and isinstance(data.get("guilds"), dict):
            self._document = data
        entry = self._document["guilds"].get(str(guild_id)) or {}
        self._category_id = _snowflake(entry.get("category_id"))
        taken = {spec.channel_id: spec for spec in self._counters.specs()}
        for item in entry.get("counters") or ():
            channel_id, template = _snowflake(item.get("channel_id")), item.get("template")
            if channel_id is None or not isinstance(template, str):
                self._log.warning(
                    "counters.state_entry_skipped", entry=str(item)[:200], reason="not a counter"
                )
                continue
            if channel_id in taken:
                # Kept in the file, not shown: the operator's counter wins until one of them is removed.
                self._shadowed.append(item)
                self._log.warning(
                    "counters.state_entry_shadowed",
                    channel_id=channel_id,
                    template=template,
                    reason=f"the channel already shows a counter from {taken[channel_id].origin}",
                    fix="remove that counter, or move this one with /counter remove and /counter add",
                )
                continue
            # A template edited by hand into something unusable is kept, paused with the fix, not dropped.
            spec = CounterSpec(channel_id, template, CounterSource.COMMAND)
            await self._counters.add_counter(spec, strict=False)
            taken[channel_id] = spec

    # --- /setup -------------------------------------------------------------------------------------------

    async def setup(self) -> SetupReport:
        """Create the category and the default counters that are missing; reuse what exists."""
        report = SetupReport()
        missing = []
        for text in DEFAULT_COUNTERS:
            template = CounterTemplate.parse(text)
            existing = self._showing_only(template.main_key)
            if existing is not None and await self._exists(existing.channel_id):
                report.reused.append(f"{template.main_key}: <#{existing.channel_id}>, from {existing.origin}")
                continue
            if existing is not None and existing.source is CounterSource.COMMAND:
                await self._counters.remove_counter(existing.channel_id)  # its channel was deleted
            missing.append((text, template))
        category = await self._category(report) if missing else None
        if category is None:
            await self._save()
            return report
        for text, template in missing:
            try:
                channel = await self._create_counter_channel(template, category)
            except PermanentDiscordError as exc:
                report.failed.append(f"{template.main_key}: {exc}. Fix: {MANAGE_CHANNELS_FIX}.")
                continue
            await self._counters.add_counter(CounterSpec(channel.channel_id, text, CounterSource.COMMAND))
            report.created.append(f"{template.main_key}: <#{channel.channel_id}>")
        await self._save()
        return report

    # --- /counter ------------------------------------------------------------------------------------------

    async def add(self, text: str, channel_id: int | None) -> ChannelStats:
        """Add a counter showing `text` in `channel_id`, or in a new voice channel in StatsBot's category."""
        template = CounterTemplate.parse(text)  # TemplateError: said to the user as it is
        if channel_id is not None:
            self._refuse_taken(channel_id)
        self._refuse_unknown_roles(template)
        count = len(self._counters.specs())
        if count >= MAX_COUNTERS:
            raise CounterAdminError(
                f"This server has {count} counters and StatsBot shows at most {MAX_COUNTERS}; "
                "remove one with /counter remove first."
            )
        if channel_id is None:
            category = await self._category(SetupReport())
            if category is None:
                raise CounterAdminError(
                    f"StatsBot could not create its category. Fix: {MANAGE_CHANNELS_FIX}."
                )
            try:
                channel_id = (await self._create_counter_channel(template, category)).channel_id
            except PermanentDiscordError as exc:
                raise CounterAdminError(f"{exc}. Fix: {MANAGE_CHANNELS_FIX}.") from exc
        state = await self._counters.add_counter(CounterSpec(channel_id, text, CounterSource.COMMAND))
        await self._save()
        return state

    async def edit(self, channel_id: int, text: str) -> ChannelStats:
        """Give the command-made counter of `channel_id` a new template."""
        spec = self._own(channel_id)
        self._refuse_unknown_roles(CounterTemplate.parse(text))
        await self._counters.remove_counter(channel_id)
        state = await self._counters.add_counter(CounterSpec(channel_id, text, spec.source))
        await self._save()
        return state

    async def remove(self, channel_id: int, *, delete_channel: bool) -> CounterSpec:
        """Stop the command-made counter of `channel_id`, deleting its channel if asked."""
        spec = self._own(channel_id)
        await self._counters.remove_counter(channel_id)
        await self._save()
        if delete_channel:
            await self._port.delete_channel(channel_id)
        return spec

    def counters(self) -> list[ChannelStats]:
        """Return every counter's state, whatever declared it."""
        return self._counters.counter_states()

    # --- helpers -------------------------------------------------------------------------------------------

    def _own(self, channel_id: int) -> CounterSpec:
        """Return the command-made counter of `channel_id`; refuse others with where to change them."""
        spec = next((s for s in self._counters.specs() if s.channel_id == channel_id), None)
        if spec is None:
            raise CounterAdminError(
                f"<#{channel_id}> shows no counter; /counter list shows the ones there are."
            )
        if spec.source is not CounterSource.COMMAND:
            raise CounterAdminError(
                f"<#{channel_id}> is a counter from {spec.origin}: change or unset it there and restart "
                "the bot; commands change only the counters they made."
            )
        return spec

    def _refuse_unknown_roles(self, template: CounterTemplate) -> None:
        """Refuse `{role:ID}` of a role this server does not have: it would show 0 for ever."""
        known = self._counters.known_roles()
        roles = sorted(role for key in template.keys if (role := role_of(key)) is not None)
        unknown = [role for role in roles if known is not None and role not in known]
        if unknown:
            raise CounterAdminError(
                f"This server has no role {unknown[0]}: copy the role's id with Developer Mode on "
                "(Server Settings > Roles > right-click the role > Copy Role ID)."
            )

    def _refuse_taken(self, channel_id: int) -> None:
        if any(spec.channel_id == channel_id for spec in self._counters.specs()):
            raise CounterAdminError(
                f"<#{channel_id}> already shows a counter; use /counter edit to change it."
            )

    def _showing_only(self, key: str) -> CounterSpec | None:
        """Return the first counter whose template shows `key` and nothing else (the original's first)."""
        for spec in self._counters.specs():
            try:
                keys = CounterTemplate.parse(spec.template, count_key=spec.count_key).keys
            except ValueError:
                continue
            if keys == {key}:
                return spec
        return None

    async def _exists(self, channel_id: int) -> bool:
        """Whether the channel is still there (a transient failure counts as there: nothing is duplicated)."""
        try:
            await self._port.fetch_channel(channel_id)
        except PermanentDiscordError:
            return False
        return True

    async def _category(self, report: SetupReport) -> int | None:
        """Return StatsBot's category, creating it when it is missing; None (reported) if it cannot."""
        if self._category_id is not None:
            try:
                info = await self._port.fetch_channel(self._category_id)
            except PermanentDiscordError:
                info = None
            if info is not None and info.kind is ChannelKind.CATEGORY:
                report.reused.append(f"category: {info.name}")
                return self._category_id
        try:
            info = await self._port.create_channel(
                CATEGORY_NAME, ChannelKind.CATEGORY, overwrites=self._overwrites()
            )
        except PermanentDiscordError as exc:
            report.failed.append(f"category: {exc}. Fix: {MANAGE_CHANNELS_FIX}.")
            return None
        self._category_id = info.channel_id
        report.created.append(f"category: {info.name}")
        await self._save()
        return info.channel_id

    async def _create_counter_channel(self, template: CounterTemplate, category: int) -> ChannelInfo:
        """Create a voice channel already named with the current value, so no rename is spent on it."""
        unknown = "".join(part if isinstance(part, str) else "…" for part in template.parts).strip()
        name = self._counters.preview(template) or unknown[:100]
        return await self._port.create_channel(
            name, ChannelKind.VOICE, parent_id=category, overwrites=self._overwrites()
        )

    def _overwrites(self) -> list[Overwrite]:
        """@everyone may see but not join a counter; the bot may view, join and rename it."""
        overwrites = [Overwrite(self._guild(), is_role=True, deny=CONNECT)]
        bot = self._port.bot_user_id()
        if bot is not None:
            overwrites.append(Overwrite(bot, is_role=False, allow=BOT_ALLOW))
        return overwrites

    def _guild(self) -> int:
        if self._guild_id is None:
            raise RuntimeError("CounterAdmin.load() was not called")
        return self._guild_id

    async def _save(self) -> None:
        """Write this guild's command-made counters and category, keeping other guilds' entries."""
        guild = self._guild()
        entry = {
            "category_id": None if self._category_id is None else str(self._category_id),
            "counters": [
                *(
                    {"channel_id": str(spec.channel_id), "template": spec.template}
                    for spec in self._counters.specs()
                    if spec.source is CounterSource.COMMAND
                ),
                *self._shadowed,
            ],
        }
        self._document = {
            "schema_version": SCHEMA_VERSION,
            "guilds": {**self._document["guilds"], str(guild): entry},
        }
        await self._store.write(STATE_FILE, self._document)


def command_counters(document: Any) -> dict[int, list[CounterSpec]]:
    """Return the command-made counters of a `state/counters.json` document by guild id, skipping bad ones.

    For the offline commands (`config`, `doctor`), which read the file without touching it.
    """
    guilds = document.get("guilds") if isinstance(document, dict) else None
    found: dict[int, list[CounterSpec]] = {}
    for key, entry in (guilds or {}).items() if isinstance(guilds, dict) else ():
        guild_id = _snowflake(key)
        items = entry.get("counters") if isinstance(entry, dict) else None
        if guild_id is None or not isinstance(items, list):
            continue
        for item in items:
            channel_id = _snowflake(item.get("channel_id")) if isinstance(item, dict) else None
            template = item.get("template") if isinstance(item, dict) else None
            if channel_id is not None and isinstance(template, str):
                spec = CounterSpec(
                    channel_id, template, CounterSource.COMMAND, setting=f"/setup or /counter (server {key})"
                )
                found.setdefault(guild_id, []).append(spec)
    return found


def read_command_counters(data_dir: Path) -> list[CounterSpec]:
    """Read DATA_DIR's command-made counters, writing nothing; [] when none or the file is unreadable."""
    try:
        document = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [spec for specs in command_counters(document).values() for spec in specs]


def _snowflake(value: Any) -> int | None:
    """Return a stored id as an int, or None when it is not one."""
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
