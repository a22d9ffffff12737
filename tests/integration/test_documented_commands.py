"""Every command README.md shows and every `make help` target works as documented.

The README is parsed when the tests are collected: every command line in its fenced code blocks (```bash and
untagged blocks; ini blocks, comments, listings and output samples are skipped), plus every `python -m src`
line a Makefile recipe runs, must have an entry in COMMANDS saying how it is exercised, and every target
`make help` lists an entry in MAKE_TARGETS. A newly documented command without one fails
`test_every_documented_command_has_an_entry`, so whoever documents it decides how it is tested.

Commands run as subprocesses (`python` is this interpreter) in a temporary folder, with no StatsBot settings
from the developer's environment, temporary DATA_DIR and LOG_DIR, and Discord pointed at a closed loopback
port. Commands that would run forever are stopped with SIGTERM or made to fail fast. `make test`, `make
bench`, `make demo` and `make run` are never run recursively; their recipes are checked to invoke what is
exercised here. The demo runs for 90 s by default (DEMO_SECONDS), so the documented run is not repeated:
`python -m src demo` runs once with DEMO_SECONDS=3 instead.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import json
import os
import re
import shlex
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from src.cli import build_parser
from src.cli import main as cli_main
from src.core.config import Settings
from src.sandbox import Sandbox
from tests.conftest import BASE_SETTINGS
from tests.integration.conftest import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
STAMP = ".venv/.installed"
TIMEOUT = 60.0  # any one subprocess; generous for a cold interpreter on a loaded 2-core machine
START_TIMEOUT = 20.0  # a cold interpreter importing discord.py on a loaded 2-core machine
STOP_TIMEOUT = 10.0  # README: SIGTERM stops the bot gracefully within 10 s
DEMO_SECONDS = "3"
UNREACHABLE_REST = "http://127.0.0.1:9/api/v10"
UNREACHABLE_GATEWAY = "ws://127.0.0.1:9/"
SHELL_BLOCKS = {"bash", "sh", "shell", "zsh", "console"}
# An untagged block counts as commands only on lines starting with one of these (not the architecture tree).
COMMAND_WORDS = {"python", "python3", ".venv/bin/python", "make", "cp", "pip", "git", "cd", "export"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PLACEHOLDER = re.compile(r"^<([a-z_]+)>$")
CHANNEL_SETTINGS = {
    "MEMBER_COUNT_CHANNEL_ID": "members",
    "ONLINE_COUNT_CHANNEL_ID": "online",
    "BAN_COUNT_CHANNEL_ID": "bans",
    "HEARTBEAT_CHANNEL_ID": "heartbeat",
    "STATS_CHANNEL_ID": "stats",
}


class How(enum.Enum):
    """How a documented command line is exercised."""

    MAKE = "the target is listed by `make help`; its recipe is checked by test_make_target_has_its_recipe"
    SANDBOX = "run on ephemeral ports: JSON info first on stdout, options applied, SIGTERM exits 0"
    RUN_ON_SANDBOX = "<placeholders> and `...` filled from a sandbox: a counter is renamed, SIGTERM exits 0"
    CONFIG_ERROR = "run with no settings (it would reach Discord): exit 2 naming every required variable"
    DEMO = "run with DEMO_SECONDS=3 (90 s by default): exit 0 with its summary"


# Keys are command lines as extracted: comments dropped, words joined by single spaces.
COMMANDS: dict[str, How] = {
    "make demo": How.MAKE,
    "make test": How.MAKE,
    "python -m src sandbox --members 10000 --bans 2500 --time-scale 60": How.SANDBOX,
    "DISCORD_API_BASE_URL=<rest_url> DISCORD_GATEWAY_URL=<gateway_url> BOT_TOKEN=sandbox-token ... "
    "python -m src run": How.RUN_ON_SANDBOX,
    # What `make run`, `make sandbox` and `make demo` run:
    "python -m src run": How.CONFIG_ERROR,
    "python -m src sandbox": How.SANDBOX,
    "python -m src demo": How.DEMO,
}


@dataclass(frozen=True)
class Target:
    """What `make -n TARGET` must show, and the flags that keep the venv stamp out of the way."""

    recipe: tuple[str, ...]
    dry_run_flags: tuple[str, ...] = ("-o", STAMP)  # the stamp never shows, fresh or stale


# Every target `make help` lists; only `help` itself is cheap and safe to run for real.
MAKE_TARGETS: dict[str, Target] = {
    "help": Target(("grep", "awk")),
    # install is nothing but the stamp: pretend pyproject.toml changed to see its recipe.
    "install": Target(("-m venv", "-m pip install", "-c requirements.lock"), ("-W", "pyproject.toml")),
    "run": Target(("-m src run",)),
    "demo": Target(("-m src demo",)),
    "sandbox": Target(("-m src sandbox",)),
    "test": Target(("-m pytest", "tests/unit", "tests/integration")),
    "unit": Target(("-m pytest -q tests/unit",)),
    "integration": Target(("-m pytest -q tests/integration",)),
    "lint": Target(("-m ruff check src tests", "-m ruff format --check src tests", "-m mypy")),
    "format": Target(("-m ruff check --fix src tests", "-m ruff format src tests")),
    "bench": Target(("-m tests.performance.run_bench",)),
    "lock": Target(("-m pip freeze", "requirements.lock")),
    "clean": Target(("rm -rf",)),
}


@dataclass(frozen=True)
class Documented:
    """One command line and where it is documented."""

    line: str
    words: tuple[str, ...]
    source: str


def _program(words: list[str]) -> str:
    """The program a shell line runs: the first word after `VAR=value` assignments and `...`."""
    return next((w for w in words if not ASSIGNMENT.match(w) and w != "..."), "")


def documented_commands(markdown: str) -> list[Documented]:
    """The command lines in the fenced code blocks of `markdown`, in order."""
    found: list[Documented] = []
    language: str | None = None  # None outside a fence
    pending = ""
    for raw in markdown.splitlines():
        stripped = raw.strip()
        if stripped.startswith("```"):
            language = stripped[3:].strip().lower() if language is None else None
            continue
        if language is None or (language and language not in SHELL_BLOCKS):
            continue
        if language == "console":
            if not stripped.startswith("$ "):
                continue  # output, not a command
            stripped = stripped[2:]
        line = pending + stripped
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if not line or line.startswith("#"):
            continue
        if not language and _program(line.split()) not in COMMAND_WORDS:
            continue
        words = shlex.split(line, comments=True)
        if words:
            found.append(Documented(" ".join(words), tuple(words), "README.md"))
    return found


def recipe_commands(makefile: str) -> list[Documented]:
    """The `python -m src` lines the Makefile's recipes run (`$(PY)` read as `python`)."""
    found: list[Documented] = []
    target = ""
    for raw in makefile.splitlines():
        if header := re.match(r"^([a-z][a-z-]*):", raw):
            target = header.group(1)
        elif raw.startswith("\t") and "$(PY) -m src" in raw:
            words = shlex.split(raw.strip().lstrip("@").replace("$(PY)", "python"))
            found.append(Documented(" ".join(words), tuple(words), f"make {target}"))
    return found


def _all_commands() -> list[Documented]:
    """README lines first, then recipe lines not already documented there."""
    commands = documented_commands(README.read_text(encoding="utf-8"))
    seen = {c.line for c in commands}
    return commands + [c for c in recipe_commands(MAKEFILE.read_text(encoding="utf-8")) if c.line not in seen]


ALL_COMMANDS = _all_commands()


def _cases(how: How) -> list[Any]:
    """Parameters for the commands exercised as `how`, each shown with its source."""
    return [pytest.param(c, id=f"{c.source}: {c.line}") for c in ALL_COMMANDS if COMMANDS.get(c.line) is how]


def _command_table_rows() -> list[Any]:
    """Parameters (subcommand, options) for every row of the README's "Command line" table."""
    rows = re.findall(r"^\| `python -m src ([a-z-]+)([^`]*)`", README.read_text(encoding="utf-8"), re.M)
    return [pytest.param(sub, re.findall(r"--[a-z][a-z0-9-]*", rest), id=sub) for sub, rest in rows]


# --- subprocess helpers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """A finished subprocess."""

    code: int
    stdout: str
    stderr: str


def _python_argv(words: tuple[str, ...] | list[str]) -> list[str]:
    """`python -m src ...` as this interpreter's argv."""
    assert list(words[:3]) == ["python", "-m", "src"], f"not a `python -m src` line: {words}"
    return [sys.executable, "-m", "src", *words[3:]]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No StatsBot setting from the developer, temporary folders, Discord on a closed port, then `extra`."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in names and not k.startswith("PYTEST")}
    env.update(
        PYTHONPATH=str(ROOT),  # the repository root, never src/ (src/types would shadow the stdlib)
        HOME=str(tmp_path),
        DATA_DIR=str(tmp_path / "data"),
        LOG_DIR=str(tmp_path / "logs"),
        DISCORD_API_BASE_URL=UNREACHABLE_REST,
        DISCORD_GATEWAY_URL=UNREACHABLE_GATEWAY,
    )
    env.update(extra)
    return env


def _tail(log: Path) -> str:
    """The end of a process's stderr log, for a failure message."""
    return log.read_text(encoding="utf-8", errors="replace")[-2000:]


def _make_env() -> dict[str, str]:
    """This environment without an outer make's flags (pytest may itself run under `make test`)."""
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    return {k: v for k, v in os.environ.items() if k not in drop}


async def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = TIMEOUT) -> Finished:
    """Run to completion within `timeout` seconds; killed if it takes longer."""
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


@asynccontextmanager
async def _process(
    argv: list[str], env: dict[str, str], cwd: Path, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """A long-running process; stdout piped, stderr to `log` (never a full pipe); killed if still running."""
    with log.open("wb") as stderr:
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=stderr
        )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _sigterm(proc: asyncio.subprocess.Process, log: Path, within: float) -> tuple[int, float]:
    """Send SIGTERM and return (exit status, seconds it took); fail with the log if it takes `within`."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), within)
    except TimeoutError:
        raise AssertionError(f"no exit {within}s after SIGTERM:\n{_tail(log)}") from None
    return code, time.monotonic() - started


async def _make(*args: str) -> Finished:
    """`make ARGS` in the repository."""
    return await _run(["make", "--no-print-directory", *args], _make_env(), ROOT)


def _help_targets(output: str) -> dict[str, str]:
    """{target: help text} from `make help`'s output."""
    return dict(re.findall(r"^\s*make (\S+)\s+(\S.*)$", output, re.M))


# --- the tables match what is documented ---------------------------------------------------------------


def test_the_readme_parser_finds_the_documented_commands():
    """The extraction finds `make` and `python -m src` lines (a broken parser would cover nothing)."""
    lines = [c.line for c in ALL_COMMANDS if c.source == "README.md"]
    assert any(line.startswith("make ") for line in lines), lines
    assert any(line.startswith("python -m src ") for line in lines), lines


def test_every_documented_command_has_an_entry():
    """Every command line the README shows or a make recipe runs has an entry in COMMANDS."""
    missing = [f"{c.source}: {c.line}" for c in ALL_COMMANDS if c.line not in COMMANDS]
    assert missing == [], "documented but untested; add each to COMMANDS, saying how it is exercised"


def test_commands_table_has_no_stale_entries():
    """Every entry in COMMANDS is still documented somewhere."""
    documented = {c.line for c in ALL_COMMANDS}
    assert [line for line in COMMANDS if line not in documented] == []


async def test_make_targets_table_matches_make_help():
    """MAKE_TARGETS has exactly the targets `make help` lists."""
    result = await _make("help")
    assert sorted(_help_targets(result.stdout)) == sorted(MAKE_TARGETS)


def test_every_phony_target_has_help_text():
    """Every target declared .PHONY has a `## ` help text, so `make help` shows it."""
    phony = re.search(r"^\.PHONY:(.*)$", MAKEFILE.read_text(encoding="utf-8"), re.M)
    assert phony is not None
    helped = set(re.findall(r"^([a-z][a-z-]*):.*## ", MAKEFILE.read_text(encoding="utf-8"), re.M))
    assert sorted(set(phony.group(1).split()) - helped) == []


# --- make targets ----------------------------------------------------------------------------------------


async def test_make_help_lists_every_target_with_a_description():
    """`make help` runs, exits 0 and describes every target."""
    result = await _make("help")
    assert result.code == 0, result.stderr
    described = _help_targets(result.stdout)
    assert all(described.get(target) for target in MAKE_TARGETS), result.stdout


@pytest.mark.parametrize("target", sorted(MAKE_TARGETS))
async def test_make_target_has_its_recipe(target):
    """`make -n TARGET` shows a real recipe running what the table expects."""
    spec = MAKE_TARGETS[target]
    result = await _make("-n", *spec.dry_run_flags, target)
    assert result.code == 0, result.stderr
    assert "Nothing to be done" not in result.stdout + result.stderr
    missing = [part for part in spec.recipe if part not in result.stdout]
    assert missing == [], result.stdout


def test_every_module_a_recipe_runs_exists():
    """Every `$(PY) -m MODULE` in the Makefile names an importable module (a renamed one would fail here)."""
    modules = set(re.findall(r"\$\(PY\) -m ([\w.]+)", MAKEFILE.read_text(encoding="utf-8")))
    assert modules, "no `$(PY) -m` recipe found"
    assert sorted(m for m in modules if importlib.util.find_spec(m) is None) == []


@pytest.mark.parametrize("command", _cases(How.MAKE))
async def test_documented_make_line_names_a_listed_target(command):
    """A documented `make TARGET` names a target that `make help` lists."""
    assert command.words[0] == "make", command.line
    assert len(command.words) == 2, command.line
    result = await _make("help")
    assert command.words[1] in _help_targets(result.stdout)


# --- python -m src command lines -------------------------------------------------------------------------


async def _read_info(proc: asyncio.subprocess.Process, log: Path) -> dict[str, Any]:
    """The sandbox's first stdout line, parsed as its JSON info."""
    assert proc.stdout is not None
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT)
    except TimeoutError:
        raise AssertionError(f"no info line within {START_TIMEOUT}s:\n{_tail(log)}") from None
    assert line, f"the sandbox exited before printing its info:\n{_tail(log)}"
    info: dict[str, Any] = json.loads(line)
    return info


def _with_ephemeral_ports(args: list[str]) -> list[str]:
    """The sandbox options with both ports ephemeral: given ones replaced by 0, missing ones added."""
    out: list[str] = []
    words = iter(args)
    for word in words:
        option = word.split("=", 1)[0]
        if option in ("--port", "--control-port"):
            if "=" not in word:
                next(words, None)
            continue
        out.append(word)
    return [*out, "--port", "0", "--control-port", "0"]


@pytest.mark.parametrize("command", _cases(How.SANDBOX))
async def test_documented_sandbox_line_serves_then_stops_on_sigterm(command, tmp_path):
    """The sandbox prints its URLs as JSON first, applies the line's options, and exits 0 on SIGTERM."""
    assert command.words[3] == "sandbox", command.line
    args = ["sandbox", *_with_ephemeral_ports(list(command.words[4:]))]
    log = tmp_path / "sandbox.stderr"
    async with _process(_python_argv(["python", "-m", "src", *args]), _env(tmp_path), tmp_path, log) as proc:
        info = await _read_info(proc, log)
        async with aiohttp.ClientSession() as http, http.get(f"{info['control_url']}/state") as response:
            state = await response.json()
        code, _ = await _sigterm(proc, log, within=5.0)
    expected = build_parser().parse_args(args)  # what the CLI made of the line, defaults included
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/api/v10", info["rest_url"]), info
    assert re.fullmatch(r"ws://127\.0\.0\.1:\d+/gateway", info["gateway_url"]), info
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", info["control_url"]), info
    assert info["token"] == expected.token
    assert (state["member_count"], state["ban_count"]) == (expected.members + 1, expected.bans)  # + the bot
    assert code == 0, _tail(log)


def _split_assignments(words: tuple[str, ...]) -> tuple[dict[str, str], bool, list[str]]:
    """(leading VAR=value assignments, whether `...` elides more settings, the command)."""
    assignments: dict[str, str] = {}
    elided = False
    for index, word in enumerate(words):
        if word == "...":
            elided = True
        elif ASSIGNMENT.match(word):
            name, value = word.split("=", 1)
            assignments[name] = value
        else:
            return assignments, elided, list(words[index:])
    raise AssertionError(f"no command in {' '.join(words)!r}")


@pytest.mark.parametrize("command", _cases(How.RUN_ON_SANDBOX))
async def test_documented_run_line_works_against_the_sandbox(command, sandbox: Sandbox, tmp_path):
    """With the line's placeholders from a sandbox the bot renames a counter, then exits 0 on SIGTERM."""
    info = sandbox.info()
    assignments, elided, argv = _split_assignments(command.words)
    settings: dict[str, str] = {}
    for name, value in assignments.items():
        placeholder = PLACEHOLDER.match(value)
        settings[name] = str(info[placeholder.group(1)]) if placeholder else value
    if elided:  # "..." stands for the channel ids the sandbox printed
        settings |= {name: str(info["channel_ids"][key]) for name, key in CHANNEL_SETTINGS.items()}
    log = tmp_path / "bot.stderr"
    env = _env(tmp_path, LOG_FORMAT="json", **settings)
    async with _process(_python_argv(argv), env, tmp_path, log) as proc:
        members = sandbox.channel_ids["members"]
        await wait_until(
            lambda: proc.returncode is not None or sandbox.channel_name(members).startswith("👥 Members: "),
            timeout=START_TIMEOUT,
            what="the bot to rename the member counter",
        )
        assert proc.returncode is None, _tail(log)
        code, elapsed = await _sigterm(proc, log, within=STOP_TIMEOUT + 5)
    assert code == 0, _tail(log)
    assert elapsed < STOP_TIMEOUT
    assert sandbox.channel_name(members) == f"👥 Members: {sandbox.member_count:,}"


@pytest.mark.parametrize("command", _cases(How.CONFIG_ERROR))
async def test_documented_line_without_settings_exits_2_naming_them(command, tmp_path):
    """With no settings the command exits 2, names every required variable and prints no traceback."""
    result = await _run(_python_argv(command.words), _env(tmp_path), tmp_path)
    assert result.code == 2, result.stderr
    missing = [name.upper() for name in BASE_SETTINGS if f"{name.upper()} is not set" not in result.stderr]
    assert missing == [], result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", _cases(How.DEMO))
async def test_documented_demo_line_finishes_with_exit_0(command, tmp_path):
    """A 3-second demo (DEMO_SECONDS) runs the bot against the sandbox, prints its summary and exits 0."""
    env = _env(tmp_path, DEMO_SECONDS=DEMO_SECONDS)
    result = await _run(_python_argv(command.words), env, tmp_path)
    assert result.code == 0, result.stderr[-2000:]
    assert "Demo finished (bot exit status 0)" in result.stdout, result.stdout[-2000:]


@pytest.mark.parametrize(("subcommand", "options"), _command_table_rows())
def test_command_table_row_matches_the_subcommand_help(subcommand, options, capsys):
    """Each README "Command line" row names a subcommand whose --help lists every option the row shows."""
    with pytest.raises(SystemExit) as info:
        cli_main([subcommand, "--help"])
    assert info.value.code == 0
    shown = capsys.readouterr().out
    assert [option for option in options if option not in shown] == []
