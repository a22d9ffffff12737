"""Command definitions as Discord shows them, and registering them only when they changed."""

from __future__ import annotations

from typing import Any

import discord
import pytest

from src.core.commands import STATE_FILE, StatsCommands, definitions_hash, register_if_changed, user_message
from src.core.exceptions import StoreError, TransientDiscordError
from src.services.stats.queries import QueryError
from tests.fakes import MemoryStore

PAYLOAD: list[dict[str, Any]] = [{"name": "health", "description": "h", "default_member_permissions": 32}]


class Uploads:
    """A fake of the bulk-overwrite call that counts how often it ran."""

    def __init__(self, fail: bool = False) -> None:
        self.count = 0
        self.fail = fail

    async def __call__(self) -> None:
        self.count += 1
        if self.fail:
            raise discord.DiscordException("HTTP 500")


async def _register(
    store: MemoryStore, uploads: Uploads, *, guild_id: int = 1, payload=PAYLOAD, on_discord=("health",)
) -> bool:
    async def registered_names() -> set[str]:
        return set(on_discord)

    return await register_if_changed(
        store,
        application_id=9,
        guild_id=guild_id,
        payload=payload,
        upload=uploads,
        registered_names=registered_names,
    )


@pytest.fixture
def definitions() -> dict[str, dict[str, Any]]:
    """The commands StatsBot registers, by name, as uploaded to Discord."""
    commands = StatsCommands(discord.Client(intents=discord.Intents.none()), answers=None, store=None)  # type: ignore[arg-type]
    tree = commands.tree
    return {c.name: c.to_dict(tree) for c in tree.get_commands()}


def test_three_top_level_commands(definitions) -> None:
    """Members see /stats, /health and /counters."""
    assert sorted(definitions) == ["counters", "health", "stats"]


def test_stats_has_now_day_and_week(definitions) -> None:
    """/stats is a group of now, day, week, chart and export; day takes a required date string."""
    options = {o["name"]: o for o in definitions["stats"]["options"]}
    assert sorted(options) == ["chart", "day", "export", "now", "week"]
    assert options["day"]["options"] == [
        {"type": 3, "name": "date", "description": "The day as YYYY-MM-DD, e.g. 2026-01-31", "required": True}
    ]


def test_health_and_counters_need_manage_server(definitions) -> None:
    """/health and /counters default to members with Manage Server; /stats is for everyone."""
    manage_guild = discord.Permissions(manage_guild=True).value
    assert definitions["health"]["default_member_permissions"] == manage_guild
    assert definitions["counters"]["default_member_permissions"] == manage_guild
    assert definitions["stats"]["default_member_permissions"] is None


def test_counters_has_refresh(definitions) -> None:
    """/counters refresh is the only counters subcommand."""
    assert [o["name"] for o in definitions["counters"]["options"]] == ["refresh"]


def test_the_hash_ignores_key_order() -> None:
    """The same definitions in another key order hash the same."""
    assert definitions_hash([{"a": 1, "b": 2}]) == definitions_hash([{"b": 2, "a": 1}])


async def test_first_start_registers_and_remembers() -> None:
    """With nothing stored the commands are uploaded and their hash is kept under state/."""
    store, uploads = MemoryStore(), Uploads()
    assert await _register(store, uploads) is True
    assert uploads.count == 1
    assert store.document(STATE_FILE)["definitions_sha256"] == definitions_hash(PAYLOAD)


async def test_unchanged_definitions_are_not_uploaded_again() -> None:
    """A second start with the same definitions for the same guild uploads nothing."""
    store, uploads = MemoryStore(), Uploads()
    await _register(store, uploads)
    assert await _register(store, uploads) is False
    assert uploads.count == 1


async def test_commands_removed_on_discord_are_uploaded_again() -> None:
    """Unchanged definitions are uploaded again when Discord no longer has them (bot re-invited)."""
    store, uploads = MemoryStore(), Uploads()
    await _register(store, uploads)
    assert await _register(store, uploads, on_discord=()) is True
    assert uploads.count == 2


async def test_changed_definitions_are_uploaded() -> None:
    """A changed description is uploaded."""
    store, uploads = MemoryStore(), Uploads()
    await _register(store, uploads)
    await _register(store, uploads, payload=[{**PAYLOAD[0], "description": "changed"}])
    assert uploads.count == 2


async def test_another_guild_gets_its_own_registration() -> None:
    """Moving to another guild registers the commands there."""
    store, uploads = MemoryStore(), Uploads()
    await _register(store, uploads)
    await _register(store, uploads, guild_id=2)
    assert uploads.count == 2


async def test_a_failed_upload_is_retried_on_the_next_start() -> None:
    """When the upload fails nothing is remembered, so the next start uploads again."""
    store = MemoryStore()
    with pytest.raises(discord.DiscordException):
        await _register(store, Uploads(fail=True))
    uploads = Uploads()
    await _register(store, uploads)
    assert uploads.count == 1


async def test_a_state_that_cannot_be_saved_does_not_fail_the_registration() -> None:
    """A full disk only means the next start registers once more."""
    store, uploads = MemoryStore(), Uploads()
    store.fail_writes = True
    assert await _register(store, uploads) is True
    assert STATE_FILE not in store.files


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (QueryError("`x` is not a date"), "`x` is not a date"),
        (TransientDiscordError("fetch counts: HTTP 503"), "Discord did not answer the bot just now"),
        (StoreError("ENOSPC"), "The stored statistics could not be read"),
        (RuntimeError("bug"), "Something went wrong on the bot's side; the error was logged."),
    ],
)
def test_user_messages_are_short_and_say_what_happened(error: BaseException, text: str) -> None:
    """Each kind of failure has its own short message, never a traceback."""
    assert user_message(error).startswith(text)
