"""The sandbox's knobs."""

from __future__ import annotations

from dataclasses import dataclass

# Discord's upload limit per file below boost tier 2 (10 MiB); tier 2 allows 50 MiB, tier 3 100 MiB.
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


@dataclass
class SandboxConfig:
    """How big the emulated guild is, which token is accepted and how fast time runs."""

    members: int = 1000  # seeded members (plus the bot itself); a `bot_share` of them are bots
    bot_share: float = 0.01  # seeded member i is a bot iff floor((i+1)*share) > floor(i*share): evenly spread
    seeded_roles: int = 3  # roles "Role 1".."Role N", each held by a block of seeded members
    role_members: int = 5000  # seeded holders of each seeded role (capped by `members`)
    boosts: int = 0  # premium_subscription_count; premium_tier follows from it
    online_share: float = 0.3  # approximate_presence_count = round(members * share) until set_online()
    bans: int = 0  # seeded bans
    time_scale: float = 1.0  # every rate-limit window is divided by this; retry_after is in real seconds
    token: str = "sandbox-token"  # noqa: S105 - the emulator's fake token; REST wants "Authorization: Bot <token>"; IDENTIFY/RESUME want the token
    privileged_intents_enabled: bool = True  # False: IDENTIFY asking a privileged intent is closed with 4014
    compress: bool = True  # honour ?compress=zlib-stream; False -> always plain text frames
    rest_port: int = 0  # REST and gateway share this port; 0 = ephemeral
    control_port: int = 0  # 0 = ephemeral
    heartbeat_interval_ms: int = 41250  # sent in HELLO; Discord's, not scaled: it is no rate-limit window
    # Seconds between a heartbeat and its ACK, as a network round trip would take. Not zero: discord.py stamps
    # a heartbeat's send time on its keep-alive thread only after the event loop wrote it, so an ACK read
    # before that stamp is measured from the previous heartbeat (a whole interval: "Can't keep up").
    heartbeat_ack_delay: float = 0.02
    # At most this many members in the answer to an all-members op 8 (None: every member, as Discord does).
    chunk_member_cap: int | None = None
    resume_buffer: int = 2048  # dispatches kept per session for RESUME
    interaction_timeout: float = 3.0  # seconds to acknowledge an interaction (not scaled, as on Discord)
    # Bytes one uploaded file may have below boost tier 2 (larger: 413 Request entity too large).
    attachment_size_limit: int = ATTACHMENT_SIZE_LIMIT

    def validate(self) -> None:
        """Raise ValueError for settings that cannot work."""
        if self.members < 0 or self.bans < 0:
            raise ValueError("members and bans must be >= 0")
        if not 0.0 <= self.online_share <= 1.0:
            raise ValueError("online_share must be between 0 and 1")
        if not 0.0 <= self.bot_share <= 1.0:
            raise ValueError("bot_share must be between 0 and 1")
        if self.seeded_roles < 0 or self.role_members < 0 or self.boosts < 0:
            raise ValueError("seeded_roles, role_members and boosts must be >= 0")
        if self.chunk_member_cap is not None and self.chunk_member_cap < 0:
            raise ValueError("chunk_member_cap must be >= 0 or None")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if not self.token:
            raise ValueError("token must not be empty")
        if self.heartbeat_interval_ms <= 0:
            raise ValueError("heartbeat_interval_ms must be positive")
        if self.heartbeat_ack_delay < 0:
            raise ValueError("heartbeat_ack_delay must be >= 0")
        if self.interaction_timeout <= 0:
            raise ValueError("interaction_timeout must be positive")
        if self.attachment_size_limit <= 0:
            raise ValueError("attachment_size_limit must be positive")


@dataclass
class Endpoints:
    """The URLs the sandbox serves, known once its sockets are bound."""

    rest_url: str = ""
    gateway_url: str = ""
    control_url: str = ""
    cdn_url: str = (
        ""  # where attachment URLs point (Discord's cdn.discordapp.com), e.g. http://127.0.0.1:PORT
    )
