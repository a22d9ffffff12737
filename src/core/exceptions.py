"""One small exception hierarchy for everything StatsBot raises on purpose."""

from __future__ import annotations


class StatsBotError(Exception):
    """Base class for StatsBot's own errors."""


class ConfigError(StatsBotError):
    """The configuration is invalid; `problems` lists every problem found, one line each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class StoreError(StatsBotError):
    """The JSON store could not read or write a file."""


class CircuitOpenError(StatsBotError):
    """A circuit breaker is open, so the call was not attempted."""

    def __init__(self, name: str, retry_in: float) -> None:
        self.name = name
        self.retry_in = retry_in
        super().__init__(f"circuit '{name}' is open; next attempt allowed in {retry_in:.1f}s")


class DiscordPortError(StatsBotError):
    """A Discord operation failed."""


class TransientDiscordError(DiscordPortError):
    """A Discord operation failed in a way worth retrying later (5xx, timeout, disconnect)."""


class PermanentDiscordError(DiscordPortError):
    """A Discord operation failed in a way retrying cannot fix (401/403/404, wrong channel type)."""

    def __init__(self, message: str, *, fix: str = "") -> None:
        self.fix = fix
        super().__init__(message)


class RateLimitedError(DiscordPortError):
    """Discord answered 429; the caller should wait `retry_after` seconds before trying again."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"rate limited; retry after {retry_after:.1f}s")
