"""`python -m src backup` and `restore`: a round trip, and a restore that refuses to mix histories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from src.cli import main
from tests.conftest import BASE_SETTINGS


def _configure(monkeypatch: pytest.MonkeyPatch, data: Path, **values: object) -> None:
    for key, value in {**BASE_SETTINGS, "data_dir": data, **values}.items():
        monkeypatch.setenv(key.upper(), str(value))


def _history(data: Path) -> None:
    (data / "events").mkdir(parents=True)
    (data / "state").mkdir()
    (data / "events" / "2026-11-29.json").write_text(json.dumps({"date": "2026-11-29", "events": []}))
    (data / "state" / "reports.json").write_text(json.dumps({"last_daily": "2026-11-29"}))


def test_backup_then_restore_brings_the_history_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`backup` writes an archive under DATA_DIR/backups; `restore` puts every file back in a new DATA_DIR."""
    old = tmp_path / "old"
    _history(old)
    _configure(monkeypatch, old)
    assert main(["backup"]) == 0
    [archive] = sorted((old / "backups").glob("statsbot-*.tar.gz"))
    assert str(archive) in capsys.readouterr().out

    new = tmp_path / "new"
    _configure(monkeypatch, new)
    assert main(["restore", str(archive)]) == 0
    assert "Restored 2 files" in capsys.readouterr().out
    assert (new / "events" / "2026-11-29.json").read_bytes() == (
        old / "events" / "2026-11-29.json"
    ).read_bytes()
    assert json.loads((new / "state" / "reports.json").read_text()) == {"last_daily": "2026-11-29"}


def test_backup_goes_to_backup_dir_when_set(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """BACKUP_DIR moves the archives out of DATA_DIR."""
    data = tmp_path / "data"
    _history(data)
    _configure(monkeypatch, data, backup_dir=tmp_path / "elsewhere")
    assert main(["backup"]) == 0
    assert len(list((tmp_path / "elsewhere").glob("statsbot-*.tar.gz"))) == 1
    assert not (data / "backups").exists()


def test_restore_into_a_folder_with_data_is_refused_unless_forced(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Restoring over live data exits 1 naming --force, and changes nothing."""
    data = tmp_path / "data"
    _history(data)
    _configure(monkeypatch, data)
    assert main(["backup"]) == 0
    [archive] = sorted((data / "backups").glob("statsbot-*.tar.gz"))
    (data / "state" / "reports.json").write_text("newer")
    capsys.readouterr()

    assert main(["restore", str(archive)]) == 1
    assert "--force" in capsys.readouterr().err
    assert (data / "state" / "reports.json").read_text() == "newer"

    assert main(["restore", str(archive), "--force"]) == 0
    assert json.loads((data / "state" / "reports.json").read_text()) == {"last_daily": "2026-11-29"}
