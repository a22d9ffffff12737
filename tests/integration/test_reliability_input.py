"""Bad input: a bad setting exits 2 naming the variable; a bad payload never takes the bot down.

Every kind of bad setting stops `python -m src run` with exit 2 and one line naming the variable (no
traceback); malformed or unexpected gateway payloads never take the running bot down.

The sandbox has no raw-dispatch API, so malformed dispatches are made by wrapping the sandbox's own
payload builders (`src.sandbox.payloads`) for one scenario call: the gateway then writes the bad frame
exactly as Discord would.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import src.sandbox.payloads as payloads
from src.sandbox import Sandbox
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

EXIT_CONFIG = 2
UNREACHABLE = {  # should a bad value slip through, the bot fails fast on a closed port, not on Discord
    "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10",
    "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/",
}
VALID = {
    "BOT_TOKEN": "valid-looking-token-for-config-tests",
    "MEMBER_COUNT_CHANNEL_ID": "111111111111111111",
    "ONLINE_COUNT_CHANNEL_ID": "222222222222222222",
    "BAN_COUNT_CHANNEL_ID": "333333333333333333",
    "HEARTBEAT_CHANNEL_ID": "444444444444444444",
    "STATS_CHANNEL_ID": "555555555555555555",
    **UNREACHABLE,
}
UNSET = None
FILE_NOT_FOLDER = "<a file>"  # replaced by the path of an existing regular file

# One bad value of each kind the settings can refuse: (variable, value; UNSET removes the variable).
BAD_VALUES: list[tuple[str, str | None]] = [
    ("BOT_TOKEN", UNSET),  # a required variable missing
    ("BOT_TOKEN", "two words"),  # a token of the wrong shape
    ("MEMBER_COUNT_CHANNEL_ID", "general"),  # not a number
    ("ONLINE_COUNT_CHANNEL_ID", "0"),  # not a positive id
    ("HEARTBEAT_CHANNEL_ID", "4.5"),  # not a whole number
    ("GUILD_ID", "my-server"),
    ("ALERT_CHANNEL_ID", "-1"),
    ("UPDATE_INTERVAL", "0"),  # seconds not above zero
    ("HEARTBEAT_INTERVAL", "an hour"),  # seconds not a number
    ("MAX_BACKOFF", "nan"),
    ("LOG_LEVEL", "LOUD"),  # not one of the choices
    ("LOG_FORMAT", "xml"),
    ("TIMEZONE", "Mars/Olympus_Mons"),
    ("DAILY_REPORT_TIME", "25:00"),
    ("WEEKLY_REPORT_DAY", "funday"),
    ("LOG_RETENTION_DAYS", "0"),  # whole numbers below their minimum
    ("CHANNEL_RENAME_LIMIT", "0"),
    ("ALERT_DISK_PERCENT", "101"),  # a percentage over 100
    ("MEMBERS_INTENT", "maybe"),  # not a boolean
    ("DISCORD_API_BASE_URL", "ftp://127.0.0.1/api"),  # wrong URL schemes
    ("DISCORD_GATEWAY_URL", "http://127.0.0.1:9/"),
    ("MEMBER_COUNT_TEMPLATE", "Members"),  # templates: no placeholder
    ("ONLINE_COUNT_TEMPLATE", "{count:q}"),  # bad format spec
    ("BAN_COUNT_TEMPLATE", "{bans}"),  # unknown placeholder
    ("PRESENCE_MEMBERS_TEMPLATE", "   {count:.0s}"),  # renders an empty name
    ("PRESENCE_BANS_TEMPLATE", "x" * 100 + "{count}"),  # renders over 100 characters
    ("PRESENCE_ONLINE_TEMPLATE", "{count"),  # does not parse
    ("LOG_DIR", FILE_NOT_FOLDER),  # an existing file where a folder belongs
    ("WEEKLY_REPORT_DAY", "9"),  # a weekday number out of 0..6
    ("CHANNEL_RENAME_WINDOW", "inf"),  # infinite seconds
]


def _run_with(variable: str, value: str | None, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m src run` with one bad setting, from a folder without any .env file."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "LANG": "C.UTF-8", **VALID}
    env["DATA_DIR"] = str(workdir / "data")
    if value is UNSET:
        env.pop(variable, None)
    else:
        if value == FILE_NOT_FOLDER:
            value = str(workdir / "a-file")
        env[variable] = value
    return subprocess.run(
        [sys.executable, "-m", "src", "run"],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture(scope="module")
def config_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str | None], Any]:
    """Every bad-value run, started side by side once for the module (each is a fresh interpreter)."""
    cases = BAD_VALUES
    workdirs = [tmp_path_factory.mktemp("config") for _ in cases]
    for workdir in workdirs:
        (workdir / "a-file").write_text("not a folder")
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda case, wd: _run_with(case[0], case[1], wd), cases, workdirs))
    return dict(zip(cases, results, strict=True))


def _assert_refused(result: subprocess.CompletedProcess[str], variable: str) -> None:
    assert result.returncode == EXIT_CONFIG, result.stderr[-1500:]
    assert "Traceback" not in result.stderr
    problems = [line for line in result.stderr.splitlines() if line.lstrip().startswith("- ")]
    assert any(variable in line for line in problems), result.stderr


@pytest.mark.parametrize(("variable", "value"), BAD_VALUES, ids=lambda v: str(v)[:24])
def test_bad_setting_exits_2_with_a_line_naming_it(config_runs, variable, value):
    """A bad value of this kind: exit status 2, a problem line naming the variable, no traceback."""
    _assert_refused(config_runs[(variable, value)], variable)


def test_a_refused_token_is_never_echoed(config_runs):
    """The line about a malformed BOT_TOKEN does not repeat the token."""
    assert "two words" not in config_runs[("BOT_TOKEN", "two words")].stderr


# --- malformed gateway payloads ------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], Any]


@contextlib.contextmanager
def _malformed(monkeypatch: pytest.MonkeyPatch, builder: str, mutate: Mutation) -> Iterator[list[Any]]:
    """While active, the sandbox builds every `builder` payload (member_payload, user_payload) mutated.

    Yields the list of payloads built, so a test can tell the bad frame really went out.
    """
    real = getattr(payloads, builder)
    built: list[Any] = []

    def build(state: Any, uid: int) -> Any:
        built.append(mutate(real(state, uid)))
        return built[-1]

    monkeypatch.setattr(payloads, builder, build)
    try:
        yield built
    finally:
        monkeypatch.setattr(payloads, builder, real)


def _without(key: str) -> Mutation:
    return lambda p: {k: v for k, v in p.items() if k != key}


def _user(**changes: Any) -> Mutation:
    return lambda p: {**p, "user": {**p["user"], **changes}}


def _user_without(key: str) -> Mutation:
    return lambda p: {**p, "user": {k: v for k, v in p["user"].items() if k != key}}


async def _join(sb: Sandbox) -> None:
    await sb.add_member(username="odd_one")


async def _ban_non_member(sb: Sandbox) -> None:
    await sb.ban(sb.member_count + 10_000_000, remove=False)


async def _leave_of_seeded_member(sb: Sandbox) -> None:
    uid = next(u for u in sb.state.members.ascending() if u != sb.state.bot_user_id)
    await sb.remove_member(uid)


MALFORMED = [
    pytest.param("member_payload", _user(new_field={"x": [1]}), _join, id="join-with-unknown-user-field"),
    pytest.param(
        "member_payload",
        lambda p: {**p, "unexpected": {"nested": [1, None]}},
        _join,
        id="join-with-unknown-member-field",
    ),
    pytest.param("member_payload", _user(username=12345), _join, id="join-with-numeric-username"),
    pytest.param(
        "member_payload",
        _user_without("username"),
        _join,
        id="join-without-username",
    ),
    pytest.param(
        "member_payload",
        _user(id="not-a-snowflake"),
        _join,
        id="join-with-non-numeric-id",
    ),
    pytest.param(
        "member_payload",
        lambda p: {**p, "joined_at": "yesterday"},
        _join,
        id="join-with-bad-timestamp",
    ),
    pytest.param(
        "user_payload",
        lambda p: None,
        _ban_non_member,
        id="ban-with-null-user",
    ),
    pytest.param(
        "user_payload",
        _without("id"),
        _leave_of_seeded_member,
        id="leave-without-user-id",
    ),
]


@pytest.mark.parametrize(("builder", "mutate", "action"), MALFORMED)
async def test_malformed_dispatch_does_not_stop_the_bot(
    sandbox, start_bot, monkeypatch, builder, mutate, action
):
    """After a malformed or unexpected dispatch the bot is still running and records the next join."""
    run = await start_bot(presence_update_interval=2.0).started()
    try:
        with _malformed(monkeypatch, builder, mutate) as sent:
            await action(sandbox)
        assert sent, "the scenario must have dispatched the malformed payload"
        later = await sandbox.add_member(username="well_formed_after")
        await wait_until(
            lambda: (
                run.task.done() or any(e.member_id == str(later) for e in run.app.recorder.today().events)
            ),
            timeout=5,
            what="the next join or the bot's exit",
        )
        assert not run.task.done(), f"the bot exited: {run.task.exception()!r}"
    finally:
        with contextlib.suppress(Exception):
            await run.stop()
