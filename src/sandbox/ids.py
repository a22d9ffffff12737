"""Snowflake ids: fixed ids for the seeded guild and a factory for ids created while running."""

from __future__ import annotations

from datetime import UTC, datetime

from src.types.ports import Clock

DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_at(when: datetime, increment: int = 0) -> int:
    """Return the snowflake Discord would give an object created at `when` (plus `increment`)."""
    millis = int(when.timestamp() * 1000) - DISCORD_EPOCH_MS
    return (millis << 22) + increment


def snowflake_time(snowflake: int) -> datetime:
    """Return the creation time encoded in a snowflake."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, UTC)


def iso(when: datetime) -> str:
    """Format a timestamp the way Discord's JSON does."""
    return when.isoformat(timespec="microseconds")


# Fixed ids keep the emulated guild stable across runs, so a bot's stored state survives a sandbox restart.
GUILD_CREATED = datetime(2019, 3, 1, tzinfo=UTC)
GUILD_ID = snowflake_at(GUILD_CREATED)
BOT_USER_ID = snowflake_at(datetime(2020, 2, 1, tzinfo=UTC))
APPLICATION_ID = BOT_USER_ID  # modern applications share the bot user's id
BOT_ROLE_ID = snowflake_at(datetime(2020, 2, 1, 0, 0, 1, tzinfo=UTC))
BOT_JOINED = datetime(2020, 2, 1, 0, 0, 2, tzinfo=UTC)
SEEDED_MEMBERS_START = snowflake_at(datetime(2020, 6, 1, tzinfo=UTC))
SEEDED_MEMBERS_JOINED = datetime(2021, 1, 1, tzinfo=UTC)
SEEDED_BANS_START = snowflake_at(datetime(2019, 9, 1, tzinfo=UTC))


SEEDED_ROLES_CREATED = datetime(2019, 3, 2, tzinfo=UTC)


def channel_id(index: int) -> int:
    """Return the fixed id of the seeded channel at `index`."""
    return snowflake_at(GUILD_CREATED, index + 1)


def seeded_role_id(number: int) -> int:
    """Return the fixed id of the seeded role "Role `number`" (numbered from 1)."""
    return snowflake_at(SEEDED_ROLES_CREATED, number)


class SnowflakeFactory:
    """Hands out strictly increasing snowflakes based on a clock's wall time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last = 0

    def next(self) -> int:
        """Return a new snowflake, later than every one handed out before."""
        # A manual clock may not move between calls, so fall back to incrementing.
        self._last = max(snowflake_at(self._clock.now()), self._last + 1)
        return self._last
