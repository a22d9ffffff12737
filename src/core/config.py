"""Settings from the environment and `.env` files; the only module that reads the environment.

Variable names are the original StatsBot's (`BOT_TOKEN`, `MEMBER_COUNT_CHANNEL_ID`, ...), so an existing
`config/.env` or `.env` keeps working. Every field says what a valid value looks like (`expect`), which is
what `load_settings` puts in front of the user when a value is wrong.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from src.core.exceptions import ConfigError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
CHANNEL_ID = (
    "a Discord channel id such as 123456789012345678 (Developer Mode, right-click the channel, Copy ID)"
)
SECONDS = "a number of seconds greater than 0, e.g. 300 (fractions such as 0.5 are allowed)"
TEMPLATE = "text with a {count} placeholder and optional format spec, e.g. '👥 Members: {count:,}'"
MAX_CHANNEL_NAME = 100  # Discord's limit on a channel name; the one place it is written down
ENV_FILES = ("config/.env", ".env")  # later files win: a local .env overrides the original bot's config/.env


def _setting(default: Any = ..., *, expect: str, doc: str, secret: bool = False, **constraints: Any) -> Any:
    """Declare a setting with the description users see in errors and in `python -m src config`."""
    extra: dict[str, Any] = {"expect": expect, "secret": secret}
    return Field(default, description=doc, json_schema_extra=extra, **constraints)


class Settings(BaseSettings):
    """Every StatsBot setting, read from the environment, `config/.env` and `.env`."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILES,
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        # Ignored per file, before the files are merged: a line copied empty from .env.example into .env
        # leaves the value the original config/.env sets in force. Blanks are handled in `_blank_is_unset`.
        env_ignore_empty=True,
        allow_inf_nan=False,  # "inf" passes gt=0 and would overflow every timer built from it
    )

    # --- the original StatsBot's variables -------------------------------------------------------------
    bot_token: SecretStr = _setting(
        expect="the token from the Developer Portal (Applications > your app > Bot > Reset Token)",
        doc="The bot's token. A secret: it is never logged or printed.",
        secret=True,
    )
    member_count_channel_id: int | None = _setting(
        None,
        expect=CHANNEL_ID + ", or empty (use /setup instead)",
        doc="Voice channel renamed to the member count.",
        gt=0,
    )
    online_count_channel_id: int | None = _setting(
        None,
        expect=CHANNEL_ID + ", or empty (use /setup instead)",
        doc="Voice channel renamed to the online count.",
        gt=0,
    )
    ban_count_channel_id: int | None = _setting(
        None,
        expect=CHANNEL_ID + ", or empty (use /setup instead)",
        doc="Voice channel renamed to the ban count.",
        gt=0,
    )
    heartbeat_channel_id: int = _setting(expect=CHANNEL_ID, doc="Text channel for the status message.", gt=0)
    stats_channel_id: int = _setting(
        expect=CHANNEL_ID, doc="Text channel for daily and weekly reports.", gt=0
    )
    update_interval: float = _setting(300.0, expect=SECONDS, doc="Seconds between count refreshes.", gt=0)
    heartbeat_interval: float = _setting(3600.0, expect=SECONDS, doc="Seconds between status updates.", gt=0)
    presence_update_interval: float = _setting(
        300.0, expect=SECONDS, doc="Seconds between presence rotations.", gt=0
    )
    max_backoff: float = _setting(
        3600.0, expect=SECONDS, doc="Longest wait between retries, in seconds.", gt=0
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = _setting(
        "INFO", expect="one of DEBUG, INFO, WARNING, ERROR, CRITICAL", doc="Log verbosity."
    )

    # --- additions ------------------------------------------------------------------------------------
    guild_id: int | None = _setting(
        None,
        expect="a Discord server id such as 123456789012345678, or empty",
        doc="The server to watch; empty: the server of MEMBER_COUNT_CHANNEL_ID, else HEARTBEAT_CHANNEL_ID.",
        gt=0,
    )
    data_dir: Path = _setting(
        Path("data"), expect="a folder path, e.g. ./data", doc="Where JSON data is kept."
    )
    backup_dir: Path | None = _setting(
        None,
        expect="a folder path, or empty for DATA_DIR/backups",
        doc="Where the daily backup archives of DATA_DIR go (the newest 7 are kept).",
    )
    timezone: str = _setting(
        "America/New_York",
        expect="an IANA time zone name such as America/New_York, Europe/Berlin or UTC",
        doc="Time zone for days, reports and report times (DST-correct).",
    )
    daily_report_time: time = _setting(
        time(0, 0),
        expect="a time of day as HH:MM or HH:MM:SS, e.g. 00:00",
        doc="When the daily report posts.",
    )
    weekly_report_day: int = _setting(
        6,
        expect="a weekday name such as sunday or mon (or 0-6, Monday = 0)",
        doc="The day the weekly report posts.",
        ge=0,
        le=6,
    )
    log_format: Literal["auto", "json", "console"] = _setting(
        "auto",
        expect="one of auto, json, console",
        doc="auto: readable on a terminal, JSON lines otherwise.",
    )
    log_dir: Path | None = _setting(
        None, expect="a folder path, or empty for no log files", doc="Optional folder for rotating log files."
    )
    log_retention_days: int = _setting(
        14, expect="a whole number of days >= 1", doc="How many daily log files LOG_DIR keeps.", ge=1
    )
    channel_rename_limit: int = _setting(
        2,
        expect="a whole number >= 1 (Discord allows 2)",
        doc="Renames allowed per channel per window.",
        ge=1,
    )
    channel_rename_window: float = _setting(
        600.0, expect=SECONDS, doc="The rename window in seconds (Discord: 600).", gt=0
    )
    rename_early_percent: float = _setting(
        1.0,
        expect="a percentage >= 0, e.g. 1 or 2.5",
        doc="A counter off by this % of its shown value (or RENAME_EARLY_MIN) may rename early.",
        ge=0,
    )
    rename_early_min: int = _setting(
        10,
        expect="a whole number >= 1, e.g. 10",
        doc="A counter off by this much (or RENAME_EARLY_PERCENT) may rename early.",
        ge=1,
    )
    counters_file: Path | None = _setting(
        None,
        expect="a path to a TOML file with one [[counter]] table (channel, template) per counter, or empty",
        doc="More counters, declared as code (see README, Counters).",
    )
    discord_api_base_url: str | None = _setting(
        None,
        expect="an http(s) URL such as http://localhost:8080/api/v10, or empty for Discord",
        doc="REST base URL, for a proxy such as nirn-proxy or the sandbox.",
    )
    discord_gateway_url: str | None = _setting(
        None,
        expect="a ws(s) URL such as ws://127.0.0.1:8081/gateway, or empty for Discord",
        doc="Gateway URL, for the sandbox or a gateway proxy.",
    )
    members_intent: bool = _setting(
        True,
        expect="true or false",
        doc="Request the privileged Server Members intent (needed for join/leave lists).",
    )

    # --- counters (issue: stats service) ------------------------------------------------------------------
    member_count_template: str = _setting(
        "👥 Members: {count:,}", expect=TEMPLATE, doc="Member counter channel name; {count} is the number."
    )
    online_count_template: str = _setting(
        "🟢 Online: {count:,}", expect=TEMPLATE, doc="Online counter channel name."
    )
    ban_count_template: str = _setting("🔨 Bans: {count:,}", expect=TEMPLATE, doc="Ban counter channel name.")
    retention_days: int = _setting(
        400, expect="a whole number of days >= 1", doc="How many daily event files to keep.", ge=1
    )

    # --- monitoring and presence --------------------------------------------------------------------------
    heartbeat_mode: Literal["edit", "post"] = _setting(
        "edit",
        expect="edit (one status message kept current) or post (a new one each time)",
        doc="How the status message is kept current.",
    )
    alert_channel_id: int | None = _setting(
        None, expect=CHANNEL_ID + ", or empty for the heartbeat channel", doc="Where alerts post.", gt=0
    )
    alert_memory_mb: float = _setting(
        512.0, expect="megabytes greater than 0, e.g. 512", doc="Alert when process RSS exceeds this.", gt=0
    )
    alert_disk_percent: float = _setting(
        90.0,
        expect="a percentage between 1 and 100, e.g. 90",
        doc="Alert when DATA_DIR's disk use exceeds this.",
        gt=0,
        le=100,
    )
    alert_counter_stale_s: float = _setting(
        1800.0, expect=SECONDS, doc="Alert when a changed counter is not shown for this long.", gt=0
    )
    alert_disconnect_s: float = _setting(
        300.0, expect=SECONDS, doc="Alert when the gateway is disconnected for this long.", gt=0
    )
    alert_store_failures: int = _setting(
        3, expect="a whole number >= 1", doc="Alert after this many consecutive data write failures.", ge=1
    )
    alert_cooldown_s: float = _setting(
        1800.0, expect=SECONDS, doc="Minimum time between two alerts of the same kind.", gt=0
    )
    notify_lifecycle: bool = _setting(
        True, expect="true or false", doc="Post a notice when the bot starts and when it stops gracefully."
    )
    presence_members_template: str = _setting(
        "👥 {count:,} members", expect=TEMPLATE, doc="Presence text for the member count."
    )
    presence_online_template: str = _setting(
        "🟢 {count:,} online", expect=TEMPLATE, doc="Presence text for online."
    )
    presence_bans_template: str = _setting(
        "🔨 {count:,} bans", expect=TEMPLATE, doc="Presence text for bans."
    )

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if token.lower().startswith("bot "):
            token = token[4:].strip()  # people paste the Authorization header form
        if not token or any(c.isspace() for c in token):
            raise ValueError("is empty or contains spaces")
        return SecretStr(token)

    @field_validator(
        "member_count_template",
        "online_count_template",
        "ban_count_template",
        "presence_members_template",
        "presence_online_template",
        "presence_bans_template",
    )
    @classmethod
    def _renders(cls, value: str) -> str:
        for sample in (0, 1_234_567_890):  # the smallest and a generous largest name
            try:
                rendered = value.format(count=sample).strip()
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"cannot be filled in ({exc}); use only the {{count}} placeholder") from None
            if not rendered:
                raise ValueError("renders an empty name")
            if len(rendered) > MAX_CHANNEL_NAME:
                raise ValueError(
                    f"renders {len(rendered)} characters; Discord allows at most {MAX_CHANNEL_NAME}"
                )
        if "{count" not in value:
            raise ValueError("has no {count} placeholder")
        return value

    @property
    def backups_folder(self) -> Path:
        """Return where backup archives go: BACKUP_DIR, or DATA_DIR/backups."""
        return self.backup_dir or self.data_dir / "backups"

    @field_validator("log_dir", "data_dir", "backup_dir")
    @classmethod
    def _folder_or_absent(cls, value: Path | None) -> Path | None:
        # Only looks: loading settings (`python -m src config`, every test) must not create folders.
        # What cannot be seen without trying (a read-only or virtual file system) is `prepare_folders`' job.
        if value is None:
            return value
        blocker = _file_in_the_way(value)
        if blocker == value:
            raise ValueError(f"{str(value)!r} is a file, not a folder")
        if blocker is not None:
            raise ValueError(f"{str(value)!r} is inside {str(blocker)!r}, which is a file, not a folder")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known IANA time zone") from None
        return value

    @field_validator("daily_report_time", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", value.strip())
            if not match:
                raise ValueError(f"{value!r} is not HH:MM or HH:MM:SS")
            hour, minute, second = (int(g) if g else 0 for g in match.groups())
            if hour > 23 or minute > 59 or second > 59:
                raise ValueError(f"{value!r} is not a time of day")
            return time(hour, minute, second)
        return value

    @field_validator("weekly_report_day", mode="before")
    @classmethod
    def _parse_weekday(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip().isdigit():
            name = value.strip().lower()
            for index, day in enumerate(WEEKDAYS):
                if len(name) >= 3 and day.startswith(name):
                    return index
            raise ValueError(f"{value!r} is not a weekday")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        # An empty or blank value means "not set": a required setting then reads "X is not set" with its
        # fix, and an optional one keeps its default, instead of "unable to parse string".
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (isinstance(v, str) and not v.strip())}
        return data

    @model_validator(mode="after")
    def _check_urls(self) -> Settings:
        problems = []
        if self.discord_api_base_url and not re.match(r"https?://", self.discord_api_base_url):
            problems.append("DISCORD_API_BASE_URL")
        if self.discord_gateway_url and not re.match(r"wss?://", self.discord_gateway_url):
            problems.append("DISCORD_GATEWAY_URL")
        if problems:
            raise ValueError("bad URL scheme in " + ", ".join(problems))
        return self

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def describe(self) -> dict[str, str]:
        """Every setting by its environment name with its effective value, secrets masked."""
        shown: dict[str, str] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            if extra.get("secret"):
                shown[name.upper()] = "********" if value else "(not set)"
            elif name == "weekly_report_day":
                shown[name.upper()] = WEEKDAYS[value]
            else:
                shown[name.upper()] = "(not set)" if value is None else str(value)
        return shown


def _file_in_the_way(path: Path) -> Path | None:
    """The existing non-folder at `path` or above it that stops `path` from being a folder, if any."""
    for candidate in (path, *path.parents):
        try:
            if candidate.is_dir():
                return None
            if candidate.exists():
                return candidate
        except OSError:  # not allowed to look: leave the verdict to creating the folder
            return None
    return None


def _unusable_folder(path: Path) -> str | None:
    """Create `path` and write a file in it; return why that failed, or None."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create the folder ({exc.strerror or exc})"
    try:
        # An unnamed temporary file: proves writing works (root passes every permission check, but not a
        # read-only mount) and leaves nothing behind.
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"cannot write in the folder ({exc.strerror or exc})"
    return None


def prepare_folders(settings: Settings, *, data_dir: bool) -> None:
    """Create LOG_DIR (when set) and, if `data_dir`, DATA_DIR; raise ConfigError naming each one unusable.

    Called at start-up by the commands that write there, so a bad folder stops them with the fix instead
    of a write failure every few seconds; `config` and read-only commands leave DATA_DIR uncreated.
    """
    folders = {"log_dir": settings.log_dir, "data_dir": settings.data_dir if data_dir else None}
    problems = []
    for name, path in folders.items():
        reason = None if path is None else _unusable_folder(path)
        if reason is not None:
            expect = _extra(name).get("expect", "a folder path")
            env = name.upper()
            problems.append(
                f"{env}={str(path)!r} cannot be used: {reason}. "
                f"Set {env} to a folder this user can create and write in ({expect})."
            )
    if problems:
        raise ConfigError(problems)


def _extra(name: str) -> dict[str, Any]:
    """The `_setting` extras (expect, secret) of the field called `name`."""
    field = Settings.model_fields.get(name)
    return field.json_schema_extra if field and isinstance(field.json_schema_extra, dict) else {}


def _problem(error: Mapping[str, Any]) -> str:
    """Turn one pydantic error into a line naming the variable, what is wrong and what is valid."""
    loc = error.get("loc") or ()
    if not loc:  # model-level check: the message already names the variables
        message = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"{message}; DISCORD_API_BASE_URL needs http(s)://, DISCORD_GATEWAY_URL needs ws(s)://"
    name = str(loc[0])
    extra = _extra(name)
    expect = extra.get("expect", "a valid value")
    env = name.upper()
    if error.get("type") == "missing":
        return f"{env} is not set. Set it to {expect}."
    message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
    if extra.get("secret"):
        return f"{env} is invalid: {message}. Set it to {expect}."  # never echo a secret back
    return f"{env}={error.get('input')!r} is invalid: {message}. Expected {expect}."


def load_settings(env_file: Path | tuple[str, ...] | None = ENV_FILES, **overrides: Any) -> Settings:
    """Load settings or raise ConfigError listing every problem at once."""
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        raise ConfigError([_problem(e) for e in exc.errors(include_url=False)]) from None


def anchor_channel_id(settings: Settings) -> int:
    """Return the channel whose server is the watched one when GUILD_ID is empty."""
    return settings.member_count_channel_id or settings.heartbeat_channel_id
