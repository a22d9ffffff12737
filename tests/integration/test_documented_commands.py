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
`python -m src demo` runs once with DEMO_SECONDS=3 instead. The sandbox walkthrough's lines run with bash
exactly as written, in a temporary folder whose `.venv` is this interpreter's environment.
"""

from __future__ import annotations

import asyncio
import enum
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from src.cli import build_parser
from src.cli import main as cli_main
from src.core.config import Settings

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
SANDBOX_ENV = "sandbox.env"  # the file the walkthrough's first line writes and its other lines source
SANDBOX_ENV_LINES = 10  # the `export` lines `--print-env` writes, which the second line waits for


class How(enum.Enum):
    """How a documented command line is exercised."""

    MAKE = "the target is listed by `make help`; its recipe is checked by test_make_target_has_its_recipe"
    SANDBOX = "run on ephemeral ports: JSON info first on stdout, options applied, SIGTERM exits 0"
    WALKTHROUGH = "run with bash as written: the bot renames a counter, SIGTERM stops it, then the sandbox"
    WALKTHROUGH_STEP = "run with bash while the walkthrough's bot runs: the member sees the bot's answer"
    CONFIG_ERROR = "run with no settings (it would reach Discord): exit 2 naming every required variable"
    DEMO = "run with DEMO_SECONDS=3 (90 s by default): exit 0 with its summary"


# Keys are command lines as extracted: comments dropped, words joined by single spaces.
COMMANDS: dict[str, How] = {
    "make demo": How.MAKE,
    "make test": How.MAKE,
    # The sandbox walkthrough, in this order: the sandbox in the background, the bot, then one slash command.
    ": > sandbox.env; .venv/bin/python -m src sandbox --members 10000 --time-scale 20 --print-env "
    "> sandbox.env &": How.WALKTHROUGH,
    "until [ $(wc -l < sandbox.env) -ge 10 ] || ! kill -0 $! 2>/dev/null; do sleep 0.2; done; "
    "if [ $(wc -l < sandbox.env) -ge 10 ]; then (. ./sandbox.env && DATA_DIR=./sandbox-data "
    "UPDATE_INTERVAL=5 HEARTBEAT_INTERVAL=10 PRESENCE_UPDATE_INTERVAL=4 .venv/bin/python -m src run); "
    "else echo The sandbox did not start: its error is above.; fi": How.WALKTHROUGH,
    '(. ./sandbox.env && curl -s $SANDBOX_CONTROL_URL/commands/invoke -d {"name": "stats now"})': (
        How.WALKTHROUGH_STEP
    ),
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
    raw: str  # as written (continuation lines joined), for running it with a shell


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
            found.append(Documented(" ".join(words), tuple(words), "README.md", line))
    return found


def recipe_commands(makefile: str) -> list[Documented]:
    """The `python -m src` lines the Makefile's recipes run (`$(PY)` read as `python`, `$(ARGS)` as unset)."""
    found: list[Documented] = []
    target = ""
    for raw in makefile.splitlines():
        if header := re.match(r"^([a-z][a-z-]*):", raw):
            target = header.group(1)
        elif raw.startswith("\t") and "$(PY) -m src" in raw:
            line = raw.strip().lstrip("@").replace("$(PY)", "python").replace("$(ARGS)", "")
            words = shlex.split(line)
            found.append(Documented(" ".join(words), tuple(words), f"make {target}", line))
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
    assert any("python -m src " in line for line in lines), lines


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


async def test_make_sandbox_passes_args_through():
    """`make sandbox ARGS="..."` runs the sandbox with those options, and `make help` says how."""
    dry_run = await _make("-n", "-o", STAMP, "sandbox", "ARGS=--members 7 --print-env")
    helped = _help_targets((await _make("help")).stdout)
    assert "-m src sandbox --members 7 --print-env" in dry_run.stdout, dry_run.stdout
    assert 'ARGS="--members 10000 --print-env"' in helped["sandbox"]


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


def _walkthrough(how: How) -> list[Documented]:
    """The README's walkthrough lines exercised as `how`, in README order."""
    return [c for c in ALL_COMMANDS if c.source == "README.md" and COMMANDS.get(c.line) is how]


def _sourced(env_file: Path) -> dict[str, str]:
    """The NAME=value pairs of the `export` lines in `env_file`."""
    pairs = (shlex.split(line)[1].split("=", 1) for line in env_file.read_text(encoding="utf-8").splitlines())
    return dict(pairs)


def _descendant(root: psutil.Process, *words: str) -> psutil.Process | None:
    """The first process under `root` whose command line has every one of `words`."""
    for child in root.children(recursive=True):
        try:
            if all(word in child.cmdline() for word in words):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def _kill(processes: list[psutil.Process]) -> None:
    """Kill each of `processes` still running (a failed test must leave no sandbox or bot behind)."""
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue


async def _get_json(url: str) -> Any:
    """GET `url` and decode its JSON body."""
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return await response.json()


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough's slash command uses curl")
async def test_documented_walkthrough_runs_the_bot_against_the_sandbox(tmp_path):
    """The two lines run the sandbox and the bot, which renames a counter and answers /stats now."""
    start, step = _walkthrough(How.WALKTHROUGH), _walkthrough(How.WALKTHROUGH_STEP)
    assert (len(start), len(step)) == (2, 1), [c.line for c in start + step]
    # `.venv/bin/python`, as the README writes it, is this interpreter's environment.
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    # A previous run's file, complete: the first line must empty it before the second line looks.
    (tmp_path / SANDBOX_ENV).write_text("export STALE=1\n" * SANDBOX_ENV_LINES, encoding="utf-8")
    log = tmp_path / "walkthrough.log"
    env = _env(tmp_path)
    with log.open("wb") as output:
        shell = await asyncio.create_subprocess_exec(
            "bash", "-c", "\n".join(c.raw for c in start), cwd=tmp_path, env=env, stdout=output, stderr=output
        )
    tree = psutil.Process(shell.pid)
    started = [tree]  # the sandbox outlives the shell, so it is remembered here once found
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while (bot := _descendant(tree, "src", "run")) is None:
            assert shell.returncode is None, f"the lines ended before the bot started:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"no bot within {START_TIMEOUT}s:\n{_tail(log)}"
            await asyncio.sleep(0.1)
        sandbox = _descendant(tree, "src", "sandbox")
        assert sandbox is not None, _tail(log)
        started += [bot, sandbox]
        control = _sourced(tmp_path / SANDBOX_ENV)["SANDBOX_CONTROL_URL"]
        members = str((await _get_json(f"{control}/info"))["channel_ids"]["members"])
        while not (state := await _get_json(f"{control}/state"))["channel_names"][members].startswith("👥"):
            assert time.monotonic() < deadline, f"no member counter rename:\n{_tail(log)}"
            await asyncio.sleep(0.1)
        answer = await _run(["bash", "-c", step[0].raw], env, tmp_path)
        stopping = time.monotonic()
        bot.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(shell.wait(), STOP_TIMEOUT + 5)  # the bot's status, the shell's last
        elapsed = time.monotonic() - stopping
        sandbox.send_signal(signal.SIGTERM)
        await asyncio.to_thread(sandbox.wait, 10)
    finally:
        _kill(started)
        if shell.returncode is None:
            await shell.wait()
    shown = json.loads(answer.stdout)
    embed = shown["messages"][0]["embeds"][0]
    fields = {field["name"]: field["value"] for field in embed["fields"]}
    expected = (False, "📊 Server statistics", f"{state['member_count']:,}")
    assert (shown["failed"], embed["title"], fields["Members"]) == expected, answer.stdout
    assert (code, elapsed < STOP_TIMEOUT) == (0, True), _tail(log)
    assert "sandbox.stopped" in log.read_text(encoding="utf-8", errors="replace")


async def test_the_walkthrough_says_so_when_the_sandbox_did_not_start(tmp_path):
    """If the sandbox exits at once (a bad option, a port in use), the second line stops with a message."""
    start = _walkthrough(How.WALKTHROUGH)
    failing = start[0].raw.replace("--print-env", "--print-env --members -5")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    script = "\n".join([failing, start[1].raw])
    result = await asyncio.wait_for(_run(["bash", "-c", script], _env(tmp_path), tmp_path), 30)
    assert "The sandbox did not start" in result.stdout
    assert not (tmp_path / "sandbox-data").exists()


@pytest.mark.parametrize("command", _cases(How.CONFIG_ERROR))
async def test_documented_line_without_settings_exits_2_naming_them(command, tmp_path):
    """With no settings the command exits 2, names every required variable and prints no traceback."""
    result = await _run(_python_argv(command.words), _env(tmp_path), tmp_path)
    assert result.code == 2, result.stderr
    required = [name.upper() for name, field in Settings.model_fields.items() if field.is_required()]
    missing = [name for name in required if f"{name} is not set" not in result.stderr]
    assert required == ["BOT_TOKEN", "HEARTBEAT_CHANNEL_ID", "STATS_CHANNEL_ID"]
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
