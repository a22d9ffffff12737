"""Fakes for the presence tests: a port that records presence updates and a settable stats view."""

from __future__ import annotations

from typing import Any

from src.core.config import Settings, load_settings
from tests.fakes import Call, FakeDiscord, FakeStats, MemoryStore, PresenceCall


def make_settings(**overrides: Any) -> Settings:
    """Valid settings with any overrides."""
    values: dict[str, Any] = {
        "bot_token": "MTAx.presence-test-token",
        "member_count_channel_id": 101,
        "online_count_channel_id": 102,
        "ban_count_channel_id": 103,
        "heartbeat_channel_id": 500,
        "stats_channel_id": 104,
    }
    values.update(overrides)
    return load_settings(None, **values)


__all__ = ["Call", "FakeDiscord", "FakeStats", "MemoryStore", "PresenceCall"]
