"""`python -m src doctor`: log in over REST only (no gateway session), check the set-up, print a table.

Exit status 0 when every check passes, 1 when any fails (2, for configuration errors, comes from the CLI).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO, cast

import aiohttp
import discord

from src.core.config import Settings
from src.core.session import TOKEN_FIX, discord_endpoints
from src.services.monitoring.setup_checks import (
    ChannelLookup,
    ChannelSpec,
    CheckRow,
    SetupFacts,
    Status,
    channel_specs,
    evaluate,
    target_guild_id,
)
from src.services.stats.counter_admin import read_command_counters
from src.services.stats.counter_specs import configured_counters
from src.utils.logging import get_logger

log = get_logger(__name__, service="doctor")

EXIT_OK, EXIT_PROBLEMS = 0, 1
UNREACHABLE_FIX = (
    "Check the network connection, or DISCORD_API_BASE_URL if you set one, then run the doctor again."
)


async def run_doctor(settings: Settings, out: TextIO | None = None) -> int:
    """Check the set-up against Discord and print the table and fixes; 0 if every check passes, else 1."""
    with discord_endpoints(settings):
        rows = await diagnose(settings)
    print(render(rows), file=out or sys.stdout)
    failed = [row.check for row in rows if row.status is Status.FAIL]
    log.info("doctor.finished", checks=len(rows), failed=failed)
    return EXIT_PROBLEMS if failed else EXIT_OK


async def diagnose(settings: Settings) -> list[CheckRow]:
    """Log in with the token (REST only), fetch what the checks need, and evaluate them."""
    # No gateway session is opened, so intents do not matter; `guilds` only keeps discord.py from warning.
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with client:
        try:
            await client.login(settings.bot_token.get_secret_value())
        except discord.LoginFailure:
            return [CheckRow("Token", Status.FAIL, "Discord rejected BOT_TOKEN", (TOKEN_FIX + ".",))]
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            return [_unreachable(exc)]
        try:
            facts = await gather_facts(client, settings)
        except (discord.DiscordServerError, aiohttp.ClientError, OSError) as exc:
            return [_unreachable(exc)]
    return evaluate(settings, facts)


def _unreachable(exc: BaseException) -> CheckRow:
    return CheckRow("Discord API", Status.FAIL, f"unreachable ({type(exc).__name__})", (UNREACHABLE_FIX,))


async def gather_facts(client: discord.Client, settings: Settings) -> SetupFacts:
    """The bot user, application flags, configured channels, the server and the bot's roles in it."""
    user = client.user
    if user is None:
        raise RuntimeError("login() did not set the bot user")
    counters = [*configured_counters(settings), *read_command_counters(settings.data_dir)]
    specs = channel_specs(settings, counters)
    lookups = [await _lookup_channel(client, spec) for spec in specs]
    guild_id = target_guild_id(settings, lookups)
    guild: dict[str, Any] | None = None
    guild_status: int | None = None
    role_ids: list[int] = []
    if guild_id is not None:
        try:
            guild = cast(dict[str, Any], await client.http.get_guild(guild_id, with_counts=False))
            member = cast(dict[str, Any], await client.http.get_member(guild_id, user.id))
            role_ids = [int(role) for role in member.get("roles", [])]
        except discord.HTTPException as exc:
            if isinstance(exc, discord.DiscordServerError):
                raise
            guild, guild_status = None, exc.status
    return SetupFacts(
        bot_id=user.id,
        bot_name=user.name,
        application_flags=client.application.flags.value if client.application else 0,
        channels=lookups,
        guild=guild,
        guild_status=guild_status,
        bot_role_ids=role_ids,
    )


async def _lookup_channel(client: discord.Client, spec: ChannelSpec) -> ChannelLookup:
    """GET /channels/{id}; a refusal is kept as its HTTP status for the checks to explain."""
    try:
        data = cast(dict[str, Any], await client.http.get_channel(spec.channel_id))
    except discord.DiscordServerError:
        raise
    except discord.HTTPException as exc:
        return ChannelLookup(spec, status=exc.status)
    return ChannelLookup(spec, data=data)


def render(rows: Sequence[CheckRow]) -> str:
    """The table, then every fix numbered; plain text with aligned columns."""
    header = ("Check", "Status", "Details")
    widths = [max(len(header[i]), *(len(_cells(row)[i]) for row in rows)) for i in range(2)]
    lines = ["StatsBot doctor", ""]
    for cells in [header, *(_cells(row) for row in rows)]:
        lines.append(f"{cells[0]:<{widths[0]}}  {cells[1]:<{widths[1]}}  {cells[2]}".rstrip())
    fixes = [(row.check, fix) for row in rows if row.status is Status.FAIL for fix in row.fixes]
    lines.append("")
    if not fixes:
        lines.append("All checks passed.")
        return "\n".join(lines)
    lines.append(f"{len(fixes)} problem{'s' * (len(fixes) != 1)} to fix:")
    lines += [f"  {n}. {check}: {fix}" for n, (check, fix) in enumerate(fixes, start=1)]
    return "\n".join(lines)


def _cells(row: CheckRow) -> tuple[str, str, str]:
    return row.check, row.status.value, row.detail
