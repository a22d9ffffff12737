"""Discord's hidden channel-rename limit (2 per 10 minutes per channel), tracked so we never hit it.

Rename times are aware UTC datetimes from the injected clock, persisted in the store, so a restart inside a
window does not spend that window's renames a second time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from src.core.exceptions import StoreError
from src.services.stats.rename_schedule import ChannelTimeline, RenameRules, earliest_slot
from src.types.ports import Clock, JsonStore
from src.utils.logging import get_logger

BUDGET_FILE = "state/rename_budget.json"
BUDGET_SCHEMA_VERSION = 1


def _aware_utc(value: datetime) -> datetime:
    """Return `value` in UTC; naive datetimes are refused because their zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"rename times must be timezone-aware, got {value!r}")
    return value.astimezone(UTC)


def validate_budget_document(data: Any) -> dict[str, Any]:
    """Check the shape of a persisted budget document and return it; raise ValueError if it is wrong."""
    if not isinstance(data, dict):
        raise ValueError("budget document is not an object")
    if data.get("schema_version") != BUDGET_SCHEMA_VERSION:
        raise ValueError(f"unsupported schema_version {data.get('schema_version')!r}")
    channels = data.get("channels")
    if not isinstance(channels, dict):
        raise ValueError("'channels' is not an object")
    for key, entry in channels.items():
        if not key.isdigit():
            raise ValueError(f"channel id {key!r} is not a number")
        if not isinstance(entry, dict) or not isinstance(entry.get("renames", []), list):
            raise ValueError(f"channel {key} has no 'renames' list")
        for stamp in [*entry.get("renames", []), entry.get("blocked_until")]:
            if stamp is not None:
                _aware_utc(datetime.fromisoformat(stamp))  # raises on bad text or a naive time
    return data


class RenameBudget:
    """A per-channel sliding window: at most `limit` renames per `window` seconds per channel."""

    def __init__(
        self, clock: Clock, *, limit: int = 2, window: float = 600.0, margin: float | None = None
    ) -> None:
        self.rules = RenameRules(limit=limit, window=window, margin=margin)
        self._clock = clock
        self._renames: dict[int, list[datetime]] = {}
        self._blocked_until: dict[int, datetime] = {}
        self._log = get_logger(__name__, service="stats")

    @property
    def limit(self) -> int:
        """Return how many renames one window allows."""
        return self.rules.limit

    @property
    def window(self) -> float:
        """Return the window's length in seconds."""
        return self.rules.window

    def _prune(self, channel_id: int, now: datetime) -> list[datetime]:
        """Drop renames that left the window and an expired penalty; return the channel's renames."""
        renames = [at for at in self._renames.get(channel_id, []) if at + self.rules.span > now]
        if renames:
            self._renames[channel_id] = renames
        else:
            self._renames.pop(channel_id, None)
        blocked = self._blocked_until.get(channel_id)
        if blocked is not None and blocked <= now:
            del self._blocked_until[channel_id]
        return renames

    def timeline(self, channel_id: int, renamed_this_run: datetime | None = None) -> ChannelTimeline:
        """Return what the rename schedule needs to know about `channel_id` now."""
        renames = self._prune(channel_id, self._clock.now())
        return ChannelTimeline(tuple(renames), self._blocked_until.get(channel_id), renamed_this_run)

    def next_slot(self, channel_id: int) -> datetime:
        """Return when `channel_id` may next be renamed: now if a rename is allowed now."""
        return earliest_slot(self.rules, self.timeline(channel_id), self._clock.now())

    def can_rename(self, channel_id: int) -> bool:
        """Whether `channel_id` may be renamed right now."""
        return self.next_slot(channel_id) <= self._clock.now()

    def record(self, channel_id: int, at: datetime) -> None:
        """Count a rename of `channel_id` whose response arrived at `at`."""
        renames = self._renames.setdefault(channel_id, [])
        renames.append(_aware_utc(at))
        renames.sort()

    def penalise(self, channel_id: int, retry_after: float) -> None:
        """Block `channel_id` for `retry_after` seconds after a 429: Discord's window is fuller than ours."""
        until = self._clock.now() + timedelta(seconds=max(0.0, retry_after))
        current = self._blocked_until.get(channel_id)
        self._blocked_until[channel_id] = until if current is None else max(current, until)

    def last_recorded(self, channel_id: int) -> datetime | None:
        """The newest rename of `channel_id` still inside the window, or None."""
        renames = self._prune(channel_id, self._clock.now())
        return renames[-1] if renames else None

    def to_json(self) -> dict[str, Any]:
        """The budget as a JSON-ready document (channel ids as strings, ISO 8601 UTC times)."""
        now = self._clock.now()
        channels: dict[str, Any] = {}
        for channel_id in sorted({*self._renames, *self._blocked_until}):
            renames = self._prune(channel_id, now)
            blocked = self._blocked_until.get(channel_id)
            if renames or blocked is not None:
                channels[str(channel_id)] = {
                    "renames": [at.isoformat() for at in renames],
                    "blocked_until": blocked.isoformat() if blocked is not None else None,
                }
        return {
            "schema_version": BUDGET_SCHEMA_VERSION,
            "limit": self.limit,
            "window": self.window,
            "channels": channels,
        }

    @classmethod
    def from_json(
        cls,
        data: Any,
        clock: Clock,
        *,
        limit: int = 2,
        window: float = 600.0,
        margin: float | None = None,
    ) -> RenameBudget:
        """Rebuild a budget from `to_json` output, dropping entries that have left the window."""
        # The limit and window come from the current settings, not the file: the file only holds times.
        budget = cls(clock, limit=limit, window=window, margin=margin)
        budget._merge(validate_budget_document(data))
        return budget

    def _merge(self, document: dict[str, Any]) -> None:
        """Add a validated document's rename times and penalties to this budget."""
        for key, entry in document["channels"].items():
            channel_id = int(key)
            for stamp in entry.get("renames", []):
                self.record(channel_id, datetime.fromisoformat(stamp))
            blocked = entry.get("blocked_until")
            if blocked is not None:
                until = _aware_utc(datetime.fromisoformat(blocked))
                current = self._blocked_until.get(channel_id)
                self._blocked_until[channel_id] = until if current is None else max(current, until)
            self._prune(channel_id, self._clock.now())

    async def save(self, store: JsonStore) -> None:
        """Write the budget to the store's `state/rename_budget.json`; raises StoreError on failure."""
        await store.write(BUDGET_FILE, self.to_json())

    async def restore(self, store: JsonStore) -> None:
        """Add the persisted renames to this budget; an absent or unreadable file adds nothing (logged)."""
        try:
            data = await store.read(BUDGET_FILE, validate=validate_budget_document)
        except StoreError as exc:
            # Starting empty risks at most one 429 per channel, which the counters handle.
            self._log.warning("budget.load_failed", file=BUDGET_FILE, error=str(exc))
            return
        if data is not None:
            self._merge(data)
            self._log.info("budget.loaded", file=BUDGET_FILE, channels=len(self._renames))

    @classmethod
    async def load(
        cls,
        store: JsonStore,
        clock: Clock,
        *,
        limit: int = 2,
        window: float = 600.0,
        margin: float | None = None,
    ) -> RenameBudget:
        """Return a budget holding the persisted renames (empty when there are none)."""
        budget = cls(clock, limit=limit, window=window, margin=margin)
        await budget.restore(store)
        return budget
