"""The command line: config errors exit 2 without a traceback; `config` masks the token; sandbox options."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from src.cli import build_parser, cmd_sandbox, main
from src.sandbox import SandboxConfig
from src.sandbox import cli as sandbox_cli
from tests.conftest import BASE_SETTINGS, TEST_TOKEN

ROOT = Path(__file__).parents[2]


def _set_env(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    for key, value in {**BASE_SETTINGS, **values}.items():
        monkeypatch.setenv(key.upper(), str(value))


def test_run_with_an_empty_environment_lists_missing_variables_and_exits_2(tmp_path: Path):
    """`python -m src run` with nothing configured names every missing variable, exit 2, no traceback."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "src", "run"],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    for name in ("BOT_TOKEN", "MEMBER_COUNT_CHANNEL_ID", "STATS_CHANNEL_ID", "HEARTBEAT_CHANNEL_ID"):
        assert f"{name} is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_prints_settings_with_the_token_masked(monkeypatch, capsys, tmp_path):
    """`python -m src config` shows every setting and never the token."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, timezone="Europe/Berlin")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert TEST_TOKEN not in out
    assert "BOT_TOKEN" in out
    assert "********" in out
    assert "Europe/Berlin" in out


def test_bad_value_exits_2_naming_the_variable(monkeypatch, capsys, tmp_path):
    """A bad value stops any command with exit 2 and a line naming the variable and a valid example."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, daily_report_time="noon")
    with pytest.raises(SystemExit) as info:
        main(["config"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "DAILY_REPORT_TIME='noon' is invalid" in err
    assert "HH:MM" in err


def test_report_prints_a_stored_day(monkeypatch, capsys, tmp_path):
    """`report daily --date` prints the stored day's numbers without touching Discord."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data", timezone="UTC")
    events = tmp_path / "data" / "events"
    events.mkdir(parents=True)
    (events / "2026-11-20.json").write_text(
        '{"schema_version": 1, "date": "2026-11-20", "member_count_start": 10, "member_count_end": 11,'
        ' "events": [{"kind": "join", "member_id": "5", "username": "ann",'
        ' "timestamp": "2026-11-20T10:00:00Z"}]}'
    )
    assert main(["report", "daily", "--date", "2026-11-20"]) == 0
    out = capsys.readouterr().out
    assert "Joins: 1" in out
    assert "Members: 10 → 11" in out


def test_import_legacy_converts_the_original_history(monkeypatch, capsys, tmp_path):
    """`import-legacy` turns the original member_stats.json into day files and says what it imported."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data")
    legacy = tmp_path / "member_stats.json"
    legacy.write_text(
        '{"2024-03-01": {"joins": [{"id": 1, "username": "ann", "timestamp": "2024-03-01T12:00:00-05:00"}],'
        ' "leaves": [{"id": "2", "username": "bob", "timestamp": "2024-03-01T13:00:00"}], "bans": []}}'
    )
    assert main(["import-legacy", str(legacy)]) == 0
    assert "Imported 1 joins, 1 leaves and 0 bans" in capsys.readouterr().out
    assert (tmp_path / "data" / "events" / "2024-03-01.json").exists()


SANDBOX_OPTIONS = (
    "--members",
    "--bans",
    "--time-scale",
    "--port",
    "--control-port",
    "--online-share",
    "--token",
)


def test_documented_sandbox_line_parses_into_its_config():
    """`sandbox --members 10000 --bans 2500 --time-scale 60` (the README's line) becomes that config."""
    args = build_parser().parse_args(
        ["sandbox", "--members", "10000", "--bans", "2500", "--time-scale", "60"]
    )
    assert args.handler is cmd_sandbox
    assert sandbox_cli.config_from(args) == SandboxConfig(members=10000, bans=2500, time_scale=60.0)


def test_every_sandbox_option_parses_through_the_subcommand():
    """Each sandbox option given to `python -m src sandbox` reaches the config."""
    options = (
        "--port 5000 --control-port 5001 --members 7 --bans 3 --online-share 0.5 --time-scale 2.5 --token t0k"
    )
    args = build_parser().parse_args(["sandbox", *options.split()])
    assert sandbox_cli.config_from(args) == SandboxConfig(
        members=7, bans=3, online_share=0.5, time_scale=2.5, token="t0k", rest_port=5000, control_port=5001
    )


def test_sandbox_subcommand_has_exactly_the_standalone_parsers_options():
    """`python -m src sandbox` and the sandbox's own parser accept the same options with the same defaults."""
    standalone = vars(sandbox_cli.build_parser().parse_args([]))
    subcommand = vars(build_parser().parse_args(["sandbox"]))
    assert {name: subcommand[name] for name in standalone} == standalone
    assert set(subcommand) - set(standalone) == {"command", "handler"}


def test_sandbox_help_lists_every_option(capsys):
    """`python -m src sandbox --help` exits 0 and lists every sandbox option."""
    with pytest.raises(SystemExit) as info:
        main(["sandbox", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert [option for option in SANDBOX_OPTIONS if option not in out] == []


def test_invalid_sandbox_value_exits_2_with_one_line(capsys):
    """A negative member count is refused with `sandbox: <problem>` and exit 2, before anything starts."""
    assert main(["sandbox", "--members", "-1"]) == 2
    assert capsys.readouterr().err == "sandbox: members and bans must be >= 0\n"


def test_sandbox_port_out_of_range_is_a_usage_error(capsys):
    """A port above 65535 is refused by the parser with exit 2 naming --port."""
    with pytest.raises(SystemExit) as info:
        main(["sandbox", "--port", "70000"])
    assert info.value.code == 2
    assert "argument --port: 70000 is not between 0 and 65535" in capsys.readouterr().err


def test_sandbox_on_a_busy_port_exits_1_without_a_traceback(tmp_path: Path):
    """A --port already in use prints `sandbox: cannot listen ...` and exits 1, with no traceback."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = subprocess.run(  # noqa: S603 - this interpreter, fixed arguments and a port number
            [sys.executable, "-m", "src", "sandbox", "--port", port],
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert "sandbox: cannot listen on 127.0.0.1" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
