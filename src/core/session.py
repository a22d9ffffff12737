"""Where discord.py connects, and the one-line fixes for the ways logging in can fail."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import discord
import yarl

from src.core.config import Settings

INTENT_FIX = (
    "the Server Members intent is not enabled for this application: turn it on at "
    "https://discord.com/developers/applications > your app > Bot > Privileged Gateway Intents > "
    "Server Members Intent, or set MEMBERS_INTENT=false (join/leave lists then stay empty)"
)
CONNECT_FIX = (
    "check the network and DNS, or DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL if set; a service manager "
    "restarting on failure will retry"
)
TOKEN_FIX = (
    "Discord rejected BOT_TOKEN: reset the token in the Developer Portal "  # noqa: S105 - a fix, not a secret
    "(Bot > Reset Token) and update it"
)


@contextmanager
def discord_endpoints(settings: Settings) -> Iterator[None]:
    """Point discord.py's REST and gateway at the configured URLs; both are class-level, so restore them."""
    saved = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    if settings.discord_api_base_url:
        discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = saved
