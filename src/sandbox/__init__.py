"""A local Discord emulator (REST API v10 + gateway) that an unmodified discord.py client can use.

async with Sandbox(SandboxConfig(members=1000, bans=2500)) as sb:
    discord.http.Route.BASE = sb.rest_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(sb.gateway_url)
    ...  # run the bot with sb.config.token, drive the scenario with sb.add_member(), sb.ban(), ...
"""

from src.sandbox.config import SandboxConfig
from src.sandbox.interactions import InteractionResult
from src.sandbox.journal import GatewayRecord, Journal, RenameRecord, RequestRecord
from src.sandbox.server import Sandbox

__all__ = [
    "GatewayRecord",
    "InteractionResult",
    "Journal",
    "RenameRecord",
    "RequestRecord",
    "Sandbox",
    "SandboxConfig",
]
