"""Slash commands on the watched guild: `/stats now|day|week`, `/health`, `/counters refresh`, and more.

`/setup`, `/counter …` and `/goal …` are declared in `counter_commands`.

Discord cannot have both a group and a plain command called `stats`, so `stats` is a group. Every answer is
deferred first (Discord allows 3 s for the first reply), then the original message is edited with the embed.
Health answers are ephemeral. Every failure ends in a short ephemeral message and a `command.failed` log
line, never in "This interaction failed".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import discord
from discord import app_commands
from pydantic import BaseModel

from src.core.command_answers import AnswerWithFiles, CommandAnswers, Reply
from src.core.counter_answers import CounterAnswers
from src.core.counter_commands import counter_commands
from src.core.discord_adapter import to_discord_embed, to_discord_files
from src.core.exceptions import DiscordPortError, StatsBotError, StoreError
from src.services.stats.chart_data import METRICS, RANGES
from src.services.stats.counter_admin import CounterAdminError
from src.services.stats.goals import GoalError
from src.services.stats.queries import QueryError, parse_day
from src.services.stats.templates import TemplateError
from src.types.models import SCHEMA_VERSION, Embed
from src.types.ports import JsonStore
from src.utils.logging import get_logger
from src.utils.text import describe_error

log = get_logger(__name__, service="commands")

Interaction = discord.Interaction[discord.Client]
STATE_FILE = "state/commands.json"
EPHEMERAL = "statsbot.ephemeral"  # interaction.extras key: whether the deferred answer is ephemeral
MANAGE_SERVER = discord.Permissions(manage_guild=True)
EXPORT_DAYS = 30  # /stats export without dates: the last 30 days, today included
SCOPE_FIX = (
    "re-invite the bot with the applications.commands scope (Developer Portal > OAuth2 > URL Generator, "
    "scopes bot and applications.commands)"
)


def answer_options(reply: Reply) -> dict[str, Any]:
    """The `edit_original_response` arguments that show `reply`: its embed or text, and its files if any."""
    if isinstance(reply, AnswerWithFiles):
        options: dict[str, Any] = {"embed": to_discord_embed(reply.embed)}
        if reply.files:
            options["attachments"] = to_discord_files(reply.files)
        return options
    if isinstance(reply, Embed):
        return {"embed": to_discord_embed(reply)}
    return {"content": reply}


class RegisteredCommands(BaseModel):
    """`state/commands.json`: which definitions were last registered, and where."""

    schema_version: int = SCHEMA_VERSION
    application_id: int
    guild_id: int
    definitions_sha256: str


def definitions_hash(payload: list[dict[str, Any]]) -> str:
    """A stable digest of the command definitions exactly as they would be uploaded."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def register_if_changed(
    store: JsonStore,
    *,
    application_id: int,
    guild_id: int,
    payload: list[dict[str, Any]],
    upload: Callable[[], Awaitable[object]],
    registered_names: Callable[[], Awaitable[set[str]]],
) -> bool:
    """Upload the definitions unless these very ones were registered here and Discord still has them.

    The stored hash says whether the definitions changed; one GET confirms the commands were not removed
    meanwhile (Discord drops a guild's commands when the bot is kicked and invited again).
    """
    wanted = RegisteredCommands(
        application_id=application_id, guild_id=guild_id, definitions_sha256=definitions_hash(payload)
    )
    try:
        stored = await store.read(STATE_FILE, validate=RegisteredCommands.model_validate)
    except StoreError as exc:
        log.warning("commands.state_unreadable", error=str(exc))
        stored = None
    if stored == wanted and await registered_names() == {str(c["name"]) for c in payload}:
        log.info("commands.unchanged", guild_id=guild_id, commands=len(payload))
        return False
    await upload()
    log.info("commands.registered", guild_id=guild_id, commands=len(payload))
    try:
        await store.write(STATE_FILE, wanted.model_dump())
    except StoreError as exc:  # the next start registers once more, which is harmless
        log.warning("commands.state_save_failed", error=str(exc))
    return True


# Mistakes in what the member typed: the message says what is wrong and how to fix it.
USER_ERRORS = (QueryError, TemplateError, CounterAdminError, GoalError)


def user_message(error: BaseException) -> str:
    """The short text a member sees when a command fails."""
    if isinstance(error, USER_ERRORS):
        return str(error)
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return "This command is out of date; the bot re-registers its commands when it restarts."
    if isinstance(error, DiscordPortError):
        return "Discord did not answer the bot just now; please try again in a minute."
    if isinstance(error, StoreError):
        return "The stored statistics could not be read; the bot's log says why."
    return "Something went wrong on the bot's side; the error was logged."


async def send_error(interaction: Interaction, message: str) -> None:
    """Tell the member privately, whatever state the answer is in; never raises."""
    try:
        if not interaction.response.is_done():
            await interaction.response.send_message(message, ephemeral=True)
        elif interaction.extras.get(EPHEMERAL, True):
            await interaction.edit_original_response(content=message, embed=None)
        else:
            # A public "thinking" message must not turn into a public error.
            await interaction.delete_original_response()
            await interaction.followup.send(message, ephemeral=True)
    except Exception as exc:
        log.error("command.reply_failed", error=describe_error(exc))


def _command_name(interaction: Interaction) -> str:
    """The full name the member typed, e.g. "stats day"."""
    command = interaction.command
    if command is not None:
        return command.qualified_name
    data: dict[str, Any] = dict(interaction.data or {})
    return str(data.get("name", "?"))


class StatsCommandTree(app_commands.CommandTree[discord.Client]):
    """A command tree whose errors become a short private message and one structured log line."""

    async def on_error(self, interaction: Interaction, error: app_commands.AppCommandError, /) -> None:
        """Log the failure and answer the member instead of leaving "This interaction failed"."""
        cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        name = _command_name(interaction)
        if isinstance(cause, USER_ERRORS):
            log.info("command.rejected", command=name, reason=str(cause))
        else:
            log.error(
                "command.failed",
                command=name,
                error=f"{type(cause).__name__}: {cause}",
                user_id=interaction.user.id if interaction.user else None,
                # Outages and stale definitions are explained by the error line; bugs need the traceback.
                exc_info=None if isinstance(cause, StatsBotError | app_commands.AppCommandError) else cause,
            )
        await send_error(interaction, user_message(cause))


class StatsCommands:
    """Builds the command tree on the client, registers it on the guild, and answers each command."""

    def __init__(
        self,
        client: discord.Client,
        answers: CommandAnswers,
        store: JsonStore,
        counter_answers: CounterAnswers | None = None,
    ) -> None:
        self._client = client
        self._answers = answers
        self._counter_answers = counter_answers
        self._store = store
        self.tree = StatsCommandTree(client)
        self.registered: bool | None = None  # the last sync's outcome: uploaded, unchanged, or not yet run
        self.synced = asyncio.Event()  # set once the first sync has finished, whatever its outcome
        self._add_commands()

    async def sync(self, guild_id: int) -> bool:
        """Register the commands on `guild_id` unless Discord has these very definitions; never raises."""
        self.registered = await self._sync(guild_id)
        self.synced.set()
        return self.registered

    async def _sync(self, guild_id: int) -> bool:
        guild = discord.Object(id=guild_id)
        self.tree.copy_global_to(guild=guild)
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        application_id = self._client.application_id
        if application_id is None:
            log.error("commands.sync_failed", error="application id unknown (not logged in)")
            return False
        try:
            return await register_if_changed(
                self._store,
                application_id=application_id,
                guild_id=guild_id,
                payload=payload,
                upload=lambda: self.tree.sync(guild=guild),
                registered_names=lambda: self._registered_names(guild),
            )
        except discord.Forbidden as exc:
            log.error("commands.sync_failed", error=f"403 {exc.text}", fix=SCOPE_FIX)
        except Exception as exc:
            log.error("commands.sync_failed", error=describe_error(exc))
        return False

    async def _registered_names(self, guild: discord.Object) -> set[str]:
        """The names of the commands Discord has for the guild now."""
        return {command.name for command in await self.tree.fetch_commands(guild=guild)}

    def _add_commands(self) -> None:
        """Declare the commands; each callback only hands over to a method below."""
        stats = app_commands.Group(name="stats", description="Server statistics")

        @stats.command(
            name="now", description="Members, online and bans now, today so far, and the last 7 days"
        )
        async def stats_now(interaction: Interaction) -> None:
            await self._answer(interaction, self._answers.stats_now, ephemeral=False)

        @stats.command(name="day", description="The statistics of one stored day")
        @app_commands.rename(text="date")
        @app_commands.describe(text="The day as YYYY-MM-DD, e.g. 2026-01-31")
        async def stats_day(interaction: Interaction, text: str) -> None:
            day = parse_day(text, self._answers.today())  # a bad date is refused before anything runs
            await self._answer(interaction, lambda: self._answers.stats_day(day), ephemeral=False)

        @stats.command(name="week", description="The last 7 days, today included")
        async def stats_week(interaction: Interaction) -> None:
            await self._answer(interaction, self._answers.stats_week, ephemeral=False)

        @stats.command(name="chart", description="A chart of members, online, joins, leaves or bans")
        @app_commands.rename(span="range")
        @app_commands.describe(metric="What to draw", span="How far back")
        @app_commands.choices(
            metric=[app_commands.Choice(name=m, value=m) for m in METRICS],
            span=[app_commands.Choice(name=r, value=r) for r in RANGES],
        )
        async def stats_chart(interaction: Interaction, metric: str, span: str = "30d") -> None:
            await self._answer(interaction, lambda: self._answers.stats_chart(metric, span), ephemeral=False)

        @stats.command(
            name="export", description="The recorded events and daily counts as a CSV (Manage Server)"
        )
        @app_commands.rename(first="from", last="to")
        @app_commands.describe(
            first="The first day as YYYY-MM-DD (default: 29 days before the last)",
            last="The last day as YYYY-MM-DD (default: today)",
        )
        async def stats_export(
            interaction: Interaction, first: str | None = None, last: str | None = None
        ) -> None:
            # /stats is everyone's; Discord sets permissions per top-level command, so this one checks here.
            if not interaction.permissions.manage_guild:
                raise QueryError("Only members with Manage Server can export the server's data.")
            today = self._answers.today()
            end = parse_day(last, today) if last else today
            start = parse_day(first, today) if first else end - timedelta(days=EXPORT_DAYS - 1)
            if start > end:
                raise QueryError(f"The first day ({start}) is after the last ({end}).")
            await self._answer(interaction, lambda: self._answers.stats_export(start, end), ephemeral=True)

        @app_commands.command(
            name="health", description="The bot's health: heartbeat, counters, breakers, errors"
        )
        @app_commands.default_permissions(manage_guild=True)
        async def health(interaction: Interaction) -> None:
            await self._answer(interaction, self._answers.health, ephemeral=True)

        counters = app_commands.Group(
            name="counters", description="The channel-name counters", default_permissions=MANAGE_SERVER
        )

        @counters.command(
            name="refresh", description="Re-read the counts now and show when each channel renames"
        )
        async def counters_refresh(interaction: Interaction) -> None:
            await self._answer(interaction, self._answers.counters_refresh, ephemeral=True)

        self.tree.add_command(stats)
        self.tree.add_command(health)
        self.tree.add_command(counters)
        if self._counter_answers is not None:
            for command in counter_commands(self._counter_answers, self._answer):
                self.tree.add_command(command)

    async def _answer(
        self, interaction: Interaction, build: Callable[[], Awaitable[Reply]], *, ephemeral: bool
    ) -> None:
        """Defer at once, build the answer, and put it in the original message; errors go to on_error.

        The answer is an embed, a text, or an embed with files (`AnswerWithFiles` or `(embed, files)`),
        which are uploaded with the edit.
        """
        started = time.perf_counter()
        interaction.extras[EPHEMERAL] = ephemeral
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        reply = await build()
        await interaction.edit_original_response(**answer_options(reply))
        log.info(
            "command.answered",
            command=_command_name(interaction),
            user_id=interaction.user.id,
            ephemeral=ephemeral,
            duration_ms=round((time.perf_counter() - started) * 1000, 1),
        )
