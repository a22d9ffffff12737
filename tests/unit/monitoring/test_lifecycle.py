"""Tests for LifecycleNotifier: start and stop notices, and the token never reaching Discord."""

from __future__ import annotations

from structlog.testing import capture_logs

from src.services.monitoring.lifecycle import LifecycleNotifier
from tests.clock import ManualClock

from .fakes import HEARTBEAT_CHANNEL, TOKEN, FakeDiscord, make_settings


def embed_text(port: FakeDiscord) -> list[str]:
    """Every posted embed flattened to one string."""
    return [embed.model_dump_json() for embed in port.embeds()]


async def test_start_notice_has_version_and_configuration(clock: ManualClock, port: FakeDiscord) -> None:
    """The start-up notice names the version and summarises channels, intervals and time zone."""
    notifier = LifecycleNotifier(make_settings(timezone="Europe/Berlin"), clock, port)

    await notifier.start()

    [sent] = port.of("send")
    assert sent.channel_id == HEARTBEAT_CHANNEL
    assert sent.embed is not None
    assert sent.embed.title == "🚀 StatsBot v0.1.0 started"
    config = sent.embed.field("Configuration") or ""
    assert f"HEARTBEAT_CHANNEL_ID: {HEARTBEAT_CHANNEL}" in config
    assert "HEARTBEAT_INTERVAL: 3600.0" in config
    assert "TIMEZONE: Europe/Berlin" in config
    assert "DAILY_REPORT_TIME: 00:00:00" in config


async def test_stop_notice_says_how_long_the_bot_ran(clock: ManualClock, port: FakeDiscord) -> None:
    """The shut-down notice gives the reason and the run time."""
    notifier = LifecycleNotifier(make_settings(), clock, port)
    await notifier.start()
    await clock.advance(3 * 3600 + 5 * 60)

    await notifier.stop("SIGTERM")

    stop = port.embeds()[-1]
    assert stop.title == "🛑 StatsBot v0.1.0 stopping"
    assert stop.field("Reason") == "SIGTERM"
    assert stop.field("Ran for") == "3h 5m"


async def test_token_never_appears_in_notices(clock: ManualClock, port: FakeDiscord) -> None:
    """Neither notice contains the bot token, even when a shutdown reason carries it."""
    notifier = LifecycleNotifier(make_settings(), clock, port)

    await notifier.start()
    await notifier.stop(f"crashed while using {TOKEN}")

    assert len(port.embeds()) == 2
    assert all(TOKEN not in text for text in embed_text(port))
    assert all("BOT_TOKEN" not in text for text in embed_text(port))


async def test_no_notices_when_disabled(clock: ManualClock, port: FakeDiscord) -> None:
    """With NOTIFY_LIFECYCLE=false nothing is posted."""
    notifier = LifecycleNotifier(make_settings(notify_lifecycle=False), clock, port)

    await notifier.start()
    await notifier.stop()

    assert port.calls == []


async def test_failed_notice_is_logged_not_raised(clock: ManualClock, port: FakeDiscord) -> None:
    """A Discord failure while posting a notice is logged and start-up carries on."""
    port.fail_sends = 1
    notifier = LifecycleNotifier(make_settings(), clock, port)

    with capture_logs() as logs:
        await notifier.start()

    assert [e["notice"] for e in logs if e["event"] == "lifecycle.notice_failed"] == ["startup"]
