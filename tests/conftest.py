"""Fixtures shared by every test: settings built without reading the developer's environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord
import pytest
import yarl

from src.core.config import Settings, load_settings

TEST_TOKEN = "test-token-7f3a9c-must-never-leak"

BASE_SETTINGS: dict[str, Any] = {
    "bot_token": TEST_TOKEN,
    "member_count_channel_id": 1001,
    "online_count_channel_id": 1002,
    "ban_count_channel_id": 1003,
    "heartbeat_channel_id": 1004,
    "stats_channel_id": 1005,
}

_ENV_NAMES = [name.upper() for name in Settings.model_fields]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's StatsBot variables."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _discord_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Anything that escapes the sandbox fails fast on a closed loopback port instead of leaving the host."""
    monkeypatch.setattr(discord.http.Route, "BASE", "http://127.0.0.1:9/api/v10")
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL("ws://127.0.0.1:9/"))


@pytest.fixture
def make_settings(tmp_path: Any) -> Callable[..., Settings]:
    """Build Settings from the test defaults plus overrides, with DATA_DIR in a temporary folder."""

    def build(**overrides: Any) -> Settings:
        values = {**BASE_SETTINGS, "data_dir": tmp_path / "data", **overrides}
        return load_settings(None, **values)

    return build
