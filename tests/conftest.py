"""Fixtures shared by every test: settings built without reading the developer's environment."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord
import pytest
import yarl

from src.core.config import Settings
from tests.fakes import BASE_SETTINGS, TEST_TOKEN
from tests.fakes import make_settings as settings_with

__all__ = ["BASE_SETTINGS", "TEST_TOKEN"]

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
        return settings_with(**{"data_dir": tmp_path / "data", **overrides})

    return build
