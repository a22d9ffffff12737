"""Logging: JSON or console, secrets redacted, discord.py routed through, timing of awaited work."""

from __future__ import annotations

import io
import json
import logging

import discord
import pytest
import structlog
from structlog.testing import capture_logs

from src.utils import logging as slog
from tests.conftest import TEST_TOKEN


@pytest.fixture(autouse=True)
def _restore_logging():
    """Each test configures logging from scratch and leaves no handler or secret behind."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    yield
    for handler in root.handlers[:]:
        root.removeHandler(handler)
        handler.close()
    root.handlers[:], root.level = saved
    slog._secrets.clear()
    structlog.reset_defaults()


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_json_lines_when_not_a_tty():
    """A non-TTY stream gets one JSON object per event, with level, logger and timestamp."""
    stream = io.StringIO()
    slog.configure_logging("INFO", "auto", stream=stream)
    slog.get_logger("statsbot.test", service="stats").info("counter.renamed", channel_id=5)
    (line,) = _lines(stream)
    assert line["event"] == "counter.renamed"
    assert line["service"] == "stats"
    assert line["channel_id"] == 5
    assert line["level"] == "info"
    assert "timestamp" in line


def test_console_format_is_readable():
    """LOG_FORMAT=console renders a human line, not JSON."""
    stream = io.StringIO()
    slog.configure_logging("INFO", "console", stream=stream)
    slog.get_logger("statsbot.test").info("bot.ready", guilds=1)
    text = stream.getvalue()
    assert "bot.ready" in text
    assert "guilds=1" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_level_filters_debug():
    """At INFO, debug events are dropped."""
    stream = io.StringIO()
    slog.configure_logging("INFO", "json", stream=stream)
    slog.get_logger("x").debug("noise")
    slog.get_logger("x").warning("signal")
    assert [line["event"] for line in _lines(stream)] == ["signal"]


def test_token_is_redacted_from_structlog_and_stdlib_and_tracebacks():
    """A registered token never reaches the output, whatever logger or exception carries it."""
    stream = io.StringIO()
    slog.configure_logging("DEBUG", "json", stream=stream)
    slog.register_secret(TEST_TOKEN)
    slog.get_logger("x").info("login", header=f"Bot {TEST_TOKEN}", nested={"t": [TEST_TOKEN]})
    logging.getLogger("discord.http").warning("sending %s", TEST_TOKEN)
    try:
        raise RuntimeError(f"bad token {TEST_TOKEN}")
    except RuntimeError:
        slog.get_logger("x").exception("failed")
    output = stream.getvalue()
    assert TEST_TOKEN not in output
    assert output.count(slog.REDACTED) >= 4


def test_discord_loggers_are_warning_unless_debug():
    """discord.py's INFO chatter is hidden at INFO and shown, in the same format, at DEBUG."""
    stream = io.StringIO()
    slog.configure_logging("INFO", "json", stream=stream)
    logging.getLogger("discord.gateway").info("Shard ID None has connected")
    logging.getLogger("discord.gateway").warning("Can't keep up")
    assert [line["event"] for line in _lines(stream)] == ["Can't keep up"]
    stream = io.StringIO()
    slog.configure_logging("DEBUG", "json", stream=stream)
    logging.getLogger("discord.gateway").info("Shard ID None has connected")
    (line,) = _lines(stream)
    assert line["logger"] == "discord.gateway"


def test_log_dir_gets_rotating_json_file(tmp_path):
    """LOG_DIR receives JSON lines in statsbot.log, rotated at midnight with the configured retention."""
    slog.configure_logging(
        "INFO", "console", log_dir=tmp_path / "logs", retention_days=3, stream=io.StringIO()
    )
    slog.get_logger("x").info("store.flushed", days=1)
    for handler in logging.getLogger().handlers:
        handler.flush()
    handler = next(h for h in logging.getLogger().handlers if isinstance(h, logging.FileHandler))
    assert handler.backupCount == 3
    (line,) = [json.loads(x) for x in (tmp_path / "logs" / "statsbot.log").read_text().splitlines()]
    assert line["event"] == "store.flushed"


def test_context_fields_are_bound():
    """Context bound with structlog's contextvars is on every event inside the block, and only there."""
    stream = io.StringIO()
    slog.configure_logging("INFO", "json", stream=stream)
    with structlog.contextvars.bound_contextvars(guild_id=42, operation="refresh"):
        slog.get_logger("x").info("counts.refreshed")
    slog.get_logger("x").info("outside")
    inside, outside = _lines(stream)
    assert inside["guild_id"] == 42
    assert inside["operation"] == "refresh"
    assert "guild_id" not in outside


async def test_timed_call_measures_awaited_work_not_coroutine_creation():
    """The duration covers the await, not time spent between creating and awaiting the coroutine."""
    now = [100.0]

    @slog.timed_call("fetch", timer=lambda: now[0])
    async def work() -> str:
        now[0] += 0.25  # the awaited work takes 250 ms
        return "done"

    coroutine = work()
    now[0] += 5.0  # time passing before the await must not count
    with capture_logs() as logs:
        assert await coroutine == "done"
    (event,) = [e for e in logs if e["event"] == "operation.timed"]
    assert event["operation"] == "fetch"
    assert event["duration_ms"] == pytest.approx(250.0)
    assert event["outcome"] == "ok"


async def test_timed_records_errors():
    """A failing block is logged with outcome=error and the error propagates."""
    with capture_logs() as logs, pytest.raises(ValueError, match="boom"):
        async with slog.timed("parse", timer=lambda: 0.0):
            raise ValueError("boom")
    assert logs[-1]["outcome"] == "error"


def test_loggers_created_before_configuration_follow_it():
    """A module-level logger made at import time still renders with the configuration applied later."""
    early = slog.get_logger("statsbot.early", service="stats")
    stream = io.StringIO()
    slog.configure_logging("INFO", "json", stream=stream)
    early.info("counter.renamed")
    (line,) = _lines(stream)
    assert line["service"] == "stats"


def test_voice_library_warnings_are_dropped_and_other_discord_warnings_kept(monkeypatch):
    """A new discord.Client says nothing about PyNaCl or davey; discord.py's other warnings still show."""
    # discord.py warns once per process; make this client warn again whatever ran before.
    monkeypatch.setattr(discord.VoiceClient, "warn_nacl", True)
    monkeypatch.setattr(discord.VoiceClient, "warn_dave", True)
    stream = io.StringIO()
    slog.configure_logging("INFO", "json", stream=stream)

    discord.Client(intents=discord.Intents.none())  # without the guilds intent discord.py warns as well

    assert [(line["logger"], line["event"]) for line in _lines(stream)] == [
        ("discord.state", "Guilds intent seems to be disabled. This may cause state related issues.")
    ]
