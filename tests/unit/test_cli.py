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
    for name in ("BOT_TOKEN", "STATS_CHANNEL_ID", "HEARTBEAT_CHANNEL_ID"):
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


def test_config_lists_every_counter_and_where_it_comes_from(monkeypatch, capsys, tmp_path):
    """`config` shows the original's three counters "from environment" and each COUNTERS_FILE counter."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "counters.toml").write_text(
        '[[counter]]\nchannel = "123456789012345678"\ntemplate = "🤖 Bots: {bots:,}"\n', encoding="utf-8"
    )
    _set_env(monkeypatch, counters_file="counters.toml")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "1001  👥 Members: {count:,}  from environment (MEMBER_COUNT_CHANNEL_ID)" in out
    assert "1003  🔨 Bans: {count:,}  from environment (BAN_COUNT_CHANNEL_ID)" in out
    assert "123456789012345678  🤖 Bots: {bots:,}  from COUNTERS_FILE counter 1" in out


def test_config_without_counters_says_how_to_make_them(monkeypatch, capsys, tmp_path):
    """With no counter variables and no file, `config` points at /setup and COUNTERS_FILE."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch)
    for name in ("MEMBER_COUNT_CHANNEL_ID", "ONLINE_COUNT_CHANNEL_ID", "BAN_COUNT_CHANNEL_ID"):
        monkeypatch.delenv(name)
    assert main(["config"]) == 0
    assert "none yet: run /setup in Discord" in capsys.readouterr().out


def test_a_bad_counters_file_stops_every_command_with_exit_2(monkeypatch, capsys, tmp_path):
    """A template an attacker could abuse is refused before anything runs, naming the file and the table."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "counters.toml").write_text(
        '[[counter]]\nchannel = 5\ntemplate = "{members.__class__}"\n', encoding="utf-8"
    )
    _set_env(monkeypatch, counters_file="counters.toml")
    with pytest.raises(SystemExit) as info:
        main(["config"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "counters.toml: counter 1: Placeholder {members.__class__} is not supported" in err


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


def test_invalid_sandbox_value_exits_2_naming_the_option(capsys):
    """A negative member count is refused naming the option and the value, exit 2, before anything starts."""
    with pytest.raises(SystemExit) as info:
        main(["sandbox", "--members", "-1"])
    assert info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("error: argument --members: -1 is not 0 or more")


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


@pytest.mark.parametrize("command", [["run"], ["import-legacy", "member_stats.json"]])
def test_data_dir_that_cannot_be_created_exits_2_before_starting(monkeypatch, capsys, tmp_path, command):
    """DATA_DIR=/proc/statsbot-data stops `run` and `import-legacy`: exit 2 naming DATA_DIR and the fix."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir="/proc/statsbot-data")
    with pytest.raises(SystemExit) as info:
        main(command)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "DATA_DIR='/proc/statsbot-data' cannot be used: cannot create the folder" in err
    assert "Set DATA_DIR to a folder this user can create and write in" in err


def test_log_dir_that_cannot_be_created_exits_2_without_a_traceback(tmp_path: Path):
    """`python -m src run` with LOG_DIR under /proc exits 2 naming LOG_DIR, with no traceback."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        **{key.upper(): str(value) for key, value in BASE_SETTINGS.items()},
        "LOG_DIR": "/proc/statsbot-logs",
        "DATA_DIR": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "src", "run"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "LOG_DIR='/proc/statsbot-logs' cannot be used" in result.stderr
    assert "Traceback" not in result.stderr


def test_data_dir_inside_a_file_stops_config_with_exit_2(monkeypatch, capsys, tmp_path):
    """`config` refuses a DATA_DIR below a regular file with exit 2, like a DATA_DIR that is a file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    _set_env(monkeypatch, data_dir=tmp_path / "a-file" / "data")
    with pytest.raises(SystemExit) as info:
        main(["config"])
    assert info.value.code == 2
    assert "DATA_DIR=" in capsys.readouterr().err


def test_config_creates_no_folder(monkeypatch, capsys, tmp_path):
    """`config` prints the settings without creating DATA_DIR or LOG_DIR."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data", log_dir=tmp_path / "logs")
    assert main(["config"]) == 0
    assert list(tmp_path.iterdir()) == []


def test_import_legacy_refuses_a_file_without_days_of_events(monkeypatch, capsys, tmp_path):
    """The original bot's final_stats.json is refused: exit 1, one line naming the file and the shape."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data")
    wrong = tmp_path / "final_stats.json"
    wrong.write_text('{"total_members": 1234, "total_bans": 56, "last_updated": "2024-03-01T12:00:00"}')
    assert main(["import-legacy", str(wrong)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith(f"import-legacy: {wrong} holds no days of joins, leaves or bans")
    assert "member_stats.json" in line
    assert not (tmp_path / "data" / "events").exists()


def test_second_import_legacy_says_how_many_were_duplicates(monkeypatch, capsys, tmp_path):
    """Importing the same file twice says the second time that its events were duplicates."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data")
    legacy = tmp_path / "member_stats.json"
    legacy.write_text(
        '{"2024-03-01": {"joins": [{"id": 1, "username": "ann", "timestamp": "2024-03-01T12:00:00-05:00"}],'
        ' "leaves": [{"id": "2", "username": "bob", "timestamp": "2024-03-01T13:00:00"}], "bans": []}}'
    )
    assert main(["import-legacy", str(legacy)]) == 0
    capsys.readouterr()
    assert main(["import-legacy", str(legacy)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Imported 0 joins, 0 leaves and 0 bans into 0 day files")
    assert "(2 duplicates, 0 skipped)" in out


def _store_day(data_dir: Path, day: str, events: str) -> None:
    folder = data_dir / "events"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{day}.json").write_text(
        f'{{"schema_version": 1, "date": "{day}", "member_count_start": 10, "member_count_end": 10,'
        f' "events": [{events}]}}',
        encoding="utf-8",
    )


def test_report_in_a_terminal_shows_names_not_discord_markup(monkeypatch, capsys, tmp_path):
    """`report daily` lists who joined and left by name, without mentions or markdown escapes."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data", timezone="UTC")
    _store_day(
        tmp_path / "data",
        "2026-11-20",
        '{"kind": "join", "member_id": "1109436285405368373", "username": "dho_chr8",'
        ' "display_name": "Dho", "timestamp": "2026-11-20T10:00:00Z"},'
        ' {"kind": "join", "member_id": "7", "username": "helper_bot", "timestamp": "2026-11-20T10:05:00Z",'
        ' "bot": true},'
        ' {"kind": "leave", "member_id": "5", "username": "ann*_*", "timestamp": "2026-11-20T11:00:00Z"}',
    )
    assert main(["report", "daily", "--date", "2026-11-20"]) == 0
    out = capsys.readouterr().out
    assert "New members: Dho (dho_chr8), helper_bot 🤖" in out
    assert "Members who left: ann*_*" in out
    assert "<@" not in out
    assert "\\" not in out


def test_report_of_a_day_without_data_says_so_and_exits_1(monkeypatch, capsys, tmp_path):
    """`report daily` for a day with no stored file says what `/stats day` says and exits 1, not all zeros."""
    monkeypatch.chdir(tmp_path)
    _set_env(monkeypatch, data_dir=tmp_path / "data", timezone="UTC")
    assert main(["report", "daily", "--date", "2020-01-01"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("No statistics are stored for Wednesday 1 January 2020.")
    assert "`" not in captured.err
    assert not (tmp_path / "data").exists()
