"""DiscordAdapter's error translation and per-page retry of the ban count, against a scripted fake client."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import discord
import pytest
from structlog.testing import capture_logs
from tenacity import Future, RetryCallState

from src.core import discord_adapter
from src.core.bot import WatchedGuild
from src.core.discord_adapter import DiscordAdapter, _ban_page_wait, translate_errors
from src.core.exceptions import PermanentDiscordError, RateLimitedError, TransientDiscordError
from src.core.member_scan import MemberChunks
from src.types.ports import ALL_USER_IDS
from src.utils.backoff import Backoff

GUILD_ID = 42

# --------------------------------------------------------------------------- helpers


class FakeResponse:
    """Just enough of aiohttp.ClientResponse for discord.HTTPException's constructor."""

    def __init__(self, status: int, reason: str = "reason") -> None:
        self.status = status
        self.reason = reason


def http_error(cls: type[discord.HTTPException], status: int) -> discord.HTTPException:
    """Build a discord.py HTTP error as the library would raise it."""
    return cls(FakeResponse(status), "message")


def bans(first_id: int, count: int) -> list[dict[str, Any]]:
    """Return a raw ban page of `count` users with consecutive ids from `first_id`."""
    return [{"user": {"id": str(first_id + i)}, "reason": None} for i in range(count)]


class FakeHttp:
    """Serves ban pages by `after`; each request takes the next scripted failure first, if any."""

    def __init__(
        self, pages: dict[int | None, list[dict[str, Any]]], *failures: BaseException | None
    ) -> None:
        self.pages = pages
        self.failures = list(failures)
        self.requests: list[int | None] = []

    async def get_bans(self, guild_id: int, limit: int, after: int | None = None) -> list[dict[str, Any]]:
        assert (guild_id, limit) == (GUILD_ID, discord_adapter.BAN_PAGE)
        self.requests.append(after)
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        return self.pages[after]


class FakeClient:
    """The two things DiscordAdapter.count_bans touches on a discord.py client."""

    def __init__(self, http: FakeHttp) -> None:
        self.http = http

    def get_guild(self, guild_id: int) -> None:
        return None


def adapter_for(http: FakeHttp) -> DiscordAdapter:
    return DiscordAdapter(FakeClient(http), WatchedGuild(GUILD_ID, 1001), MemberChunks())  # type: ignore[arg-type]


THREE_PAGES: dict[int | None, list[dict[str, Any]]] = {
    None: bans(1, 1000),
    1000: bans(1001, 1000),
    2000: bans(2001, 5),
}


@pytest.fixture(autouse=True)
def _no_backoff_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter's retry sleeps with tenacity's default asyncio.sleep, so make every wait 0 s."""
    monkeypatch.setattr(discord_adapter, "BAN_PAGE_BACKOFF", Backoff(0.0, 0.0))


def failed_attempt(attempt: int, error: BaseException) -> RetryCallState:
    """Return tenacity's state after attempt number `attempt` failed with `error`."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = attempt
    outcome: Future = Future(attempt)
    outcome.set_exception(error)
    state.outcome = outcome
    return state


# --------------------------------------------------------------------------- count_bans


async def test_count_bans_adds_up_every_page() -> None:
    """Three pages of 1000, 1000 and 5 bans count as 2005."""
    assert await adapter_for(FakeHttp(THREE_PAGES)).count_bans() == 2005


async def test_count_bans_reports_how_far_the_pages_have_got() -> None:
    """After each page the highest user id counted is reported; after the last, every id is covered."""
    covered: list[int] = []
    await adapter_for(FakeHttp(THREE_PAGES)).count_bans(covered.append)
    assert covered == [1000, 2000, ALL_USER_IDS]


async def test_failed_middle_page_is_retried_alone() -> None:
    """A 503 on page two retries page two only; page one is not fetched again and the total is right."""
    http = FakeHttp(THREE_PAGES, None, http_error(discord.DiscordServerError, 503))
    total = await adapter_for(http).count_bans()
    assert (total, http.requests) == (2005, [None, 1000, 1000, 2000])


async def test_rate_limited_page_is_retried() -> None:
    """A 429 on a page is retried (here after its retry_after of 0 s) and the count completes."""
    http = FakeHttp(THREE_PAGES, None, None, discord.RateLimited(0.0))
    total = await adapter_for(http).count_bans()
    assert (total, http.requests) == (2005, [None, 1000, 2000, 2000])


async def test_permanent_error_is_not_retried() -> None:
    """A 403 on a page becomes PermanentDiscordError at once, without a second request."""
    http = FakeHttp(THREE_PAGES, http_error(discord.Forbidden, 403))
    with pytest.raises(PermanentDiscordError):
        await adapter_for(http).count_bans()
    assert http.requests == [None]


async def test_programming_error_is_not_retried() -> None:
    """A bug while fetching a page (here a TypeError) surfaces at once, without a second request."""
    http = FakeHttp(THREE_PAGES, TypeError("bad argument"))
    with pytest.raises(TypeError):
        await adapter_for(http).count_bans()
    assert http.requests == [None]


async def test_last_transient_error_propagates_after_three_attempts() -> None:
    """After three failed attempts the last TransientDiscordError propagates, not tenacity's RetryError."""
    last = http_error(discord.DiscordServerError, 503)
    http = FakeHttp(THREE_PAGES, TimeoutError(), http_error(discord.HTTPException, 500), last)
    with pytest.raises(TransientDiscordError) as caught:
        await adapter_for(http).count_bans()
    assert (caught.value.__cause__, http.requests) == (last, [None, None, None])


async def test_each_retried_attempt_logs_attempt_failed() -> None:
    """Every failed attempt that is retried logs retry.attempt_failed with its number."""
    http = FakeHttp(THREE_PAGES, TimeoutError(), aiohttp.ServerDisconnectedError())
    with capture_logs() as logs:
        await adapter_for(http).count_bans()
    failed = [e for e in logs if e["event"] == "retry.attempt_failed"]
    assert [(e["log_level"], e["operation"], e["attempt"]) for e in failed] == [
        ("warning", "ban page", 1),
        ("warning", "ban page", 2),
    ]


# --------------------------------------------------------------------------- the wait between attempts


def test_rate_limited_attempt_waits_for_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 429 asking for 30 s is retried after 30 s, not after the (shorter) backoff."""
    monkeypatch.setattr(discord_adapter, "BAN_PAGE_BACKOFF", Backoff(1.0, 10.0, jitter=True))
    assert _ban_page_wait(failed_attempt(1, RateLimitedError(30.0))) == 30.0


def test_short_retry_after_does_not_shorten_the_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the backoff asks for longer than the 429's retry_after, the backoff's wait is used."""
    monkeypatch.setattr(discord_adapter, "BAN_PAGE_BACKOFF", Backoff(2.0, 10.0))
    assert _ban_page_wait(failed_attempt(2, RateLimitedError(0.5))) == 4.0


def test_transient_attempt_waits_as_the_backoff_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """An outage (not a 429) waits the backoff's delay for that attempt."""
    monkeypatch.setattr(discord_adapter, "BAN_PAGE_BACKOFF", Backoff(2.0, 10.0))
    assert _ban_page_wait(failed_attempt(3, TransientDiscordError("503"))) == 8.0


# --------------------------------------------------------------------------- translate_errors


@pytest.mark.parametrize(
    "exc",
    [
        http_error(discord.HTTPException, 500),
        http_error(discord.DiscordServerError, 503),
        http_error(discord.HTTPException, 429),
        aiohttp.ClientError(),
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
        ConnectionResetError(),
    ],
    ids=[
        "http-500",
        "http-503",
        "http-429",
        "ClientError",
        "ServerDisconnected",
        "Timeout",
        "ConnectionReset",
    ],
)
async def test_outages_become_transient(exc: BaseException) -> None:
    """Timeouts, disconnects, 5xx and a bare 429 are translated to TransientDiscordError."""
    with pytest.raises(TransientDiscordError):
        async with translate_errors("count bans"):
            raise exc


@pytest.mark.parametrize(
    "exc",
    [
        http_error(discord.Forbidden, 403),
        http_error(discord.NotFound, 404),
        http_error(discord.HTTPException, 400),
        http_error(discord.HTTPException, 401),
    ],
    ids=["forbidden-403", "not-found-404", "http-400", "http-401"],
)
async def test_refusals_become_permanent(exc: BaseException) -> None:
    """403, 404 and other 4xx answers are translated to PermanentDiscordError."""
    with pytest.raises(PermanentDiscordError):
        async with translate_errors("count bans"):
            raise exc


async def test_rate_limit_becomes_rate_limited_with_retry_after() -> None:
    """discord.RateLimited becomes RateLimitedError carrying the same retry_after."""
    with pytest.raises(RateLimitedError) as caught:
        async with translate_errors("rename channel"):
            raise discord.RateLimited(3.0)
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(
    "exc",
    [ValueError("bug"), KeyError("bug"), discord.LoginFailure("bad token"), asyncio.CancelledError()],
    ids=["ValueError", "KeyError", "LoginFailure", "CancelledError"],
)
async def test_other_errors_pass_through_untranslated(exc: BaseException) -> None:
    """Bugs, a bad token and cancellation leave as themselves, so nothing retries them as an outage."""
    with pytest.raises(type(exc)) as caught:
        async with translate_errors("count bans"):
            raise exc
    assert caught.value is exc
