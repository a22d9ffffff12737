"""Structured logging: JSON lines for machines, readable lines on a terminal, secrets redacted everywhere.

structlog renders through the standard library's `logging`, so discord.py's own loggers come out in the
same format and pass through the same redaction.
"""

from __future__ import annotations

import functools
import logging
import logging.handlers
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, MutableMapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal, ParamSpec, TextIO, TypeVar

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

P = ParamSpec("P")
T = TypeVar("T")
LogFormat = Literal["auto", "json", "console"]
REDACTED = "[redacted]"

_secrets: set[str] = set()

# discord.py says these when any Client is created without its voice libraries. StatsBot never joins a
# voice channel (its counters only rename them), so they would only alarm whoever reads the log.
VOICE_NOTICES = frozenset(
    {
        "PyNaCl is not installed, voice will NOT be supported",
        "davey is not installed, voice will NOT be supported",
    }
)


class DropVoiceNotices(logging.Filter):
    """Drop discord.py's "voice will NOT be supported" notices and nothing else."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but the two voice notices from discord.py's loggers."""
        from_discord = record.name == "discord" or record.name.startswith("discord.")
        return not (from_discord and record.getMessage() in VOICE_NOTICES)


def register_secret(value: str) -> None:
    """Make every later log line replace `value` with a placeholder."""
    if len(value) >= 6:  # a very short string would redact ordinary words
        _secrets.add(value)


def redact(text: str) -> str:
    """Return `text` with every registered secret replaced."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Structlog processor: scrub registered secrets from every field, including rendered exceptions."""
    if not _secrets:
        return event_dict
    return {key: _redact_value(value) for key, value in event_dict.items()}


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]


def _renderer(fmt: LogFormat, stream: TextIO) -> Processor:
    use_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    if use_json:
        return structlog.processors.JSONRenderer(ensure_ascii=False)
    return structlog.dev.ConsoleRenderer(colors=stream.isatty())


def _formatter(renderer: Processor) -> logging.Formatter:
    # Exceptions are rendered to text before redaction so a token inside a traceback is scrubbed too.
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "auto",
    *,
    log_dir: Path | None = None,
    retention_days: int = 14,
    stream: TextIO | None = None,
) -> None:
    """Route structlog and the standard library (discord.py included) through one renderer."""
    stream = stream or sys.stderr
    numeric = logging.getLevelName(level.upper())
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(stream)
    console.setFormatter(_formatter(_renderer(fmt, stream)))
    handlers.append(console)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        files = logging.handlers.TimedRotatingFileHandler(
            log_dir / "statsbot.log", when="midnight", backupCount=retention_days, utc=True, encoding="utf-8"
        )
        files.setFormatter(_formatter(structlog.processors.JSONRenderer(ensure_ascii=False)))
        handlers.append(files)

    for handler in handlers:
        # On the handlers rather than on `discord.client`: a filter on a logger misses its children's
        # records, and the notices would come back if discord.py moved them to another module.
        handler.addFilter(DropVoiceNotices())

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(numeric)
    # discord.py is chatty at INFO (every gateway step); keep it to warnings unless debugging.
    for name in ("discord", "aiohttp"):
        logging.getLogger(name).setLevel(numeric if numeric == logging.DEBUG else logging.WARNING)

    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=False,  # tests swap processors with capture_logs()
    )


def get_logger(name: str, **context: Any) -> structlog.typing.FilteringBoundLogger:
    """A logger for `name` with context fields (service, guild_id, channel_id, ...) bound."""
    # A lazy proxy: binding now would freeze whatever configuration exists at import time.
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name, **context)
    return logger


@asynccontextmanager
async def timed(
    operation: str,
    *,
    logger: Any = None,
    timer: Callable[[], float] = time.perf_counter,
    **fields: Any,
) -> AsyncIterator[MutableMapping[str, Any]]:
    """Log `operation.timed` with the duration of the awaited work inside the block."""
    log = logger or structlog.get_logger("statsbot.timing")
    extra: MutableMapping[str, Any] = dict(fields)
    start = timer()
    outcome = "ok"
    try:
        yield extra
    except BaseException:
        outcome = "error"
        raise
    finally:
        duration_ms = round((timer() - start) * 1000, 3)
        log.debug("operation.timed", operation=operation, duration_ms=duration_ms, outcome=outcome, **extra)


def timed_call(
    operation: str, *, timer: Callable[[], float] = time.perf_counter
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Coroutine[Any, Any, T]]]:
    """Decorate a coroutine function so each await is timed (from first await, not from the call)."""

    def decorate(fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            async with timed(operation, timer=timer):
                return await fn(*args, **kwargs)

        return wrapper

    return decorate
