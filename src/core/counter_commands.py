"""`/setup`, `/counter add|edit|remove|list` and `/goal set|clear`: counters set up from inside Discord.

Each needs Manage Server by default (server admins can change that per role in Server Settings >
Integrations). Answers are ephemeral and deferred first, like every StatsBot command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from src.core.counter_answers import CounterAnswers
from src.types.models import Embed

Interaction = discord.Interaction[discord.Client]
Answer = Callable[..., Awaitable[None]]  # StatsCommands._answer(interaction, build, ephemeral=...)
CounterChannel = discord.VoiceChannel | discord.StageChannel | discord.CategoryChannel
MANAGE_SERVER = discord.Permissions(manage_guild=True)
TEMPLATE_HELP = "e.g. 👥 {members:,} · 🤖 {bots}: placeholders members, humans, bots, online, bans, boosts, …"


def counter_commands(answers: CounterAnswers, answer: Answer) -> list[Any]:
    """Return the `/setup` command and the `/counter` and `/goal` groups, answering through `answer`."""

    async def reply(interaction: Interaction, build: Callable[[], Awaitable[Embed | str]]) -> None:
        await answer(interaction, build, ephemeral=True)

    @app_commands.command(name="setup", description="Create a category and voice channels for the counters")
    @app_commands.default_permissions(manage_guild=True)
    @app_commands.guild_only()
    async def setup(interaction: Interaction) -> None:
        await reply(interaction, answers.setup)

    counter = app_commands.Group(
        name="counter", description="Counters in channel names", default_permissions=MANAGE_SERVER
    )

    @counter.command(name="add", description="Show a counter in a channel (a new voice channel if none)")
    @app_commands.describe(template=TEMPLATE_HELP, channel="A voice channel or category; empty: a new one")
    async def counter_add(
        interaction: Interaction, template: str, channel: CounterChannel | None = None
    ) -> None:
        await reply(interaction, lambda: answers.add(template, None if channel is None else channel.id))

    @counter.command(name="edit", description="Change what a counter made by a command shows")
    @app_commands.describe(channel="The counter's channel", template=TEMPLATE_HELP)
    async def counter_edit(interaction: Interaction, channel: CounterChannel, template: str) -> None:
        await reply(interaction, lambda: answers.edit(channel.id, template))

    @counter.command(name="remove", description="Stop a counter made by a command")
    @app_commands.describe(channel="The counter's channel", delete_channel="Delete the channel too")
    async def counter_remove(
        interaction: Interaction, channel: CounterChannel, delete_channel: bool = False
    ) -> None:
        await reply(interaction, lambda: answers.remove(channel.id, delete_channel))

    @counter.command(name="list", description="Every counter: value, name, next rename, pause reason")
    async def counter_list(interaction: Interaction) -> None:
        async def build() -> Embed:
            return answers.list()

        await reply(interaction, build)

    goal = app_commands.Group(
        name="goal",
        description="A member goal shown by {goal} and announced",
        default_permissions=MANAGE_SERVER,
    )

    @goal.command(name="set", description="Set the next member goal and how far it moves once reached")
    @app_commands.describe(
        target="The next goal, e.g. 1000",
        step="How far the goal moves once reached, e.g. 500",
        channel="Where reaching a goal is announced",
    )
    async def goal_set(
        interaction: Interaction,
        target: app_commands.Range[int, 1, 10**12],
        step: app_commands.Range[int, 1, 10**12],
        channel: discord.TextChannel,
    ) -> None:
        await reply(interaction, lambda: answers.goal_set(target, step, channel.id))

    @goal.command(name="clear", description="Remove the member goal")
    async def goal_clear(interaction: Interaction) -> None:
        await reply(interaction, answers.goal_clear)

    return [setup, counter, goal]
