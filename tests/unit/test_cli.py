"""The command line: config errors exit 2 without a traceback; `config` masks the token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from src.cli import main
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
