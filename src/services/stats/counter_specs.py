"""Where counters are declared: the original's environment variables and the operator's COUNTERS_FILE.

The original StatsBot's three variables keep defining their counters (`{count}` is each one's value), so
an existing `.env` shows exactly what it did. A TOML file adds counters as code:

    [[counter]]
    channel = 123456789012345678
    template = "🤖 Bots: {bots:,}"

Every problem in the file is reported at once, naming the table and the fix, before the bot connects.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from src.core.config import Settings
from src.core.exceptions import ConfigError
from src.services.stats.templates import CounterTemplate, TemplateError
from src.types.models import CounterKind, CounterSource, CounterSpec

FILE_KEYS = frozenset({"channel", "template"})


def environment_counters(settings: Settings) -> list[CounterSpec]:
    """Return the original's counters (members, online, bans) whose channel variables are set."""
    declared = (
        (settings.member_count_channel_id, settings.member_count_template, CounterKind.MEMBERS, "MEMBER"),
        (settings.online_count_channel_id, settings.online_count_template, CounterKind.ONLINE, "ONLINE"),
        (settings.ban_count_channel_id, settings.ban_count_template, CounterKind.BANS, "BAN"),
    )
    return [
        CounterSpec(
            channel_id,
            template,
            CounterSource.ENVIRONMENT,
            count_key=kind,
            setting=f"{prefix}_COUNT_CHANNEL_ID",
        )
        for channel_id, template, kind, prefix in declared
        if channel_id is not None
    ]


def read_counters_file(path: Path, taken: set[int] | None = None) -> list[CounterSpec]:
    """Return the counters a COUNTERS_FILE declares; raise ConfigError listing every problem in it.

    `taken` holds channel ids other sources already use: one channel shows one counter.
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            [f"COUNTERS_FILE={str(path)!r} does not exist. Create it or unset COUNTERS_FILE."]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"COUNTERS_FILE={str(path)!r} cannot be read: {exc}."]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"COUNTERS_FILE={str(path)!r} is not valid TOML: {exc}."]) from None
    tables = document.get("counter", [])
    extra = sorted(set(document) - {"counter"})
    problems = [
        f"{path}: unknown top-level key {key!r}; declare counters as [[counter]] tables." for key in extra
    ]
    if not isinstance(tables, list):
        raise ConfigError([*problems, f"{path}: 'counter' must be [[counter]] tables."])
    specs: list[CounterSpec] = []
    # Who shows each channel already, for the message of a duplicate.
    owners = dict.fromkeys(taken or (), "a counter set in the environment")
    for index, table in enumerate(tables, start=1):
        spec, found = _counter(path, index, table, owners)
        problems += found
        if spec is not None:
            specs.append(spec)
    if problems:
        raise ConfigError(problems)
    return specs


def _counter(
    path: Path, index: int, table: Any, owners: dict[int, str]
) -> tuple[CounterSpec | None, list[str]]:
    """Return the counter of one [[counter]] table, or every problem with it.

    A valid channel is claimed in `owners` even when the rest of the table is wrong, so a later table
    reusing it is reported in the same run.
    """
    where = f"{path}: counter {index}"
    if not isinstance(table, dict):
        return None, [f"{where} is not a table; write each counter as a [[counter]] table."]
    problems: list[str] = []
    unknown = sorted(set(table) - FILE_KEYS)
    if unknown:
        problems.append(
            f"{where} has unknown keys {', '.join(unknown)}; a counter has only channel and template."
        )
    channel = _channel(table.get("channel"))
    if "channel" not in table:
        problems.append(f"{where} has no channel: add channel = 123456789012345678 (the channel's id).")
    elif channel is None:
        problems.append(
            f"{where}: channel must be a channel id such as 123456789012345678, got {table['channel']!r}."
        )
    elif channel in owners:
        problems.append(
            f"{where}: channel {channel} already shows {owners[channel]}; use one channel per counter."
        )
        channel = None
    else:
        owners[channel] = f"counter {index}"
    template = table.get("template")
    if "template" not in table:
        problems.append(f'{where} has no template: add template = "👥 {{members:,}}" (or another).')
    elif not isinstance(template, str):
        problems.append(f'{where}: template must be text such as "👥 {{members:,}}", got {template!r}.')
    else:
        try:
            CounterTemplate.parse(template)
        except TemplateError as exc:
            problems.append(f"{where}: {exc}")
    if problems or channel is None or not isinstance(template, str):
        return None, problems
    return CounterSpec(channel, template, CounterSource.FILE, setting=f"COUNTERS_FILE counter {index}"), []


def _channel(value: Any) -> int | None:
    """Return the channel id `value` gives (a positive integer, or one quoted), or None."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)  # ids are often quoted, as JSON needs them to be
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return None
    return value


def configured_counters(settings: Settings) -> list[CounterSpec]:
    """Return the environment's counters and then the COUNTERS_FILE's; raise ConfigError on a bad file."""
    specs = environment_counters(settings)
    if settings.counters_file is not None:
        specs += read_counters_file(settings.counters_file, {spec.channel_id for spec in specs})
    return specs
