"""Backup archives: what goes in, how many are kept, and a restore that refuses to mix histories."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from src.utils.archive import ArchiveError, archive_name, list_archives, make_archive, restore_archive

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A DATA_DIR with a day file, a state file, a journal and the clutter an archive must skip."""
    root = tmp_path / "data"
    (root / "events").mkdir(parents=True)
    (root / "state").mkdir()
    (root / "events" / "2026-11-29.json").write_text('{"date": "2026-11-29", "events": []}')
    (root / "events" / "2026-11-30.jsonl").write_text('{"add": 1}\n')
    (root / "state" / "reports.json").write_text('{"last_daily": "2026-11-29"}')
    (root / "state" / "reports.json.bak1").write_text("older")
    (root / "events" / "2026-11-28.json.tmp-abc").write_text("half written")
    (root / "events" / "2026-11-27.json.corrupt-20261127T000000Z").write_text("{broken")
    return root


def _names(archive: Path) -> list[str]:
    with tarfile.open(archive) as tar:
        return sorted(tar.getnames())


def test_an_archive_holds_the_history_and_skips_temp_and_quarantined_files(data: Path) -> None:
    """Day files, journals and state go in; temp, quarantined and .bak copies do not."""
    made = make_archive(data, data / "backups", NOW)

    assert made.path == data / "backups" / "statsbot-20261130-030000.tar.gz"
    assert _names(made.path) == ["events/2026-11-29.json", "events/2026-11-30.jsonl", "state/reports.json"]
    assert made.files == 3


def test_an_archive_never_contains_earlier_archives(data: Path) -> None:
    """A second archive made into DATA_DIR/backups does not swallow the first."""
    make_archive(data, data / "backups", NOW)
    second = make_archive(data, data / "backups", NOW + timedelta(days=1))
    assert not any(name.startswith("backups") for name in _names(second.path))


def test_only_the_newest_seven_archives_are_kept(data: Path, tmp_path: Path) -> None:
    """Nine daily archives leave the newest seven, oldest deleted first."""
    backups = tmp_path / "backups"
    for day in range(9):
        make_archive(data, backups, NOW + timedelta(days=day))
    kept = [p.name for p in list_archives(backups)]
    assert kept == [archive_name(NOW + timedelta(days=day)) for day in range(2, 9)]


def test_a_restore_into_an_empty_folder_gives_back_every_file(data: Path, tmp_path: Path) -> None:
    """The round trip: what was archived comes back byte for byte."""
    made = make_archive(data, tmp_path / "backups", NOW)
    target = tmp_path / "restored"

    assert restore_archive(made.path, target) == 3
    assert (target / "events" / "2026-11-29.json").read_bytes() == (
        data / "events" / "2026-11-29.json"
    ).read_bytes()
    assert (target / "state" / "reports.json").read_text() == '{"last_daily": "2026-11-29"}'


def test_a_restore_refuses_a_folder_that_holds_data(data: Path, tmp_path: Path) -> None:
    """Restoring over live data would mix two histories: refused unless forced, and nothing is changed."""
    made = make_archive(data, tmp_path / "backups", NOW)
    (data / "state" / "reports.json").write_text("newer")

    with pytest.raises(ArchiveError, match="not empty"):
        restore_archive(made.path, data)
    assert (data / "state" / "reports.json").read_text() == "newer"

    restore_archive(made.path, data, force=True)
    assert (data / "state" / "reports.json").read_text() == '{"last_daily": "2026-11-29"}'


def test_an_archive_with_a_path_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """A crafted archive cannot write outside DATA_DIR."""
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        payload = b"owned"
        info = tarfile.TarInfo("../outside.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))

    with pytest.raises(ArchiveError):
        restore_archive(evil, tmp_path / "data")
    assert not (tmp_path / "outside.txt").exists()


def test_a_file_that_is_not_an_archive_is_a_clear_error(tmp_path: Path) -> None:
    """Any other file is refused with a message naming it."""
    bogus = tmp_path / "notes.tar.gz"
    bogus.write_text("not a tarball")
    with pytest.raises(ArchiveError, match=r"notes\.tar\.gz"):
        restore_archive(bogus, tmp_path / "data")
