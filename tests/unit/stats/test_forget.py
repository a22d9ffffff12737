"""`forget MEMBER_ID`: every record of one member gone from DATA_DIR, and what still holds it said plainly."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from src.core.offline import forget, forget_summary
from src.services.stats.forget import forget_member, mentions
from src.services.stats.history import Change, DailyHistory, change_line, day_name
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.archive import make_archive
from src.utils.run_lock import RunLock
from src.utils.store import AtomicJsonStore
from tests.fakes import make_settings

FORGOTTEN, KEPT = "123456789012345678", "223456789012345678"
DAY_1, DAY_2 = date(2026, 11, 20), date(2026, 11, 21)


def event(member_id: str, kind: EventKind, day: date, hour: int) -> MemberEvent:
    """An event of `member_id` at `hour` UTC on `day`."""
    at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return MemberEvent(kind=kind, member_id=member_id, username=f"user{member_id[-3:]}", timestamp=at)


async def seed(root: Path) -> tuple[AtomicJsonStore, DailyHistory]:
    """Two day files (one written twice: the store keeps an older copy) and a journal naming the member."""
    store = AtomicJsonStore(root)
    history = DailyHistory(store)
    first = [event(FORGOTTEN, EventKind.JOIN, DAY_1, 10), event(KEPT, EventKind.JOIN, DAY_1, 11)]
    await history.save_day(DailyStats(date=DAY_1, events=first[:1]))
    await history.save_day(DailyStats(date=DAY_1, events=first))
    await history.save_day(DailyStats(date=DAY_2, events=[event(KEPT, EventKind.LEAVE, DAY_2, 9)]))
    await history.append_journal(
        DAY_2, [change_line(Change.ADD, event(FORGOTTEN, EventKind.LEAVE, DAY_2, 12))]
    )
    return store, history


async def test_every_event_of_the_member_is_removed_and_others_kept(tmp_path: Path) -> None:
    """The member's join and (journalled) leave are gone; the other member's events are untouched."""
    store, history = await seed(tmp_path)
    found = await forget_member(store, history, FORGOTTEN, backup_dir=tmp_path / "backups", keep_archives=7)
    assert found.events_removed == 2
    assert found.days_changed == [day_name(DAY_1), day_name(DAY_2)]
    fresh = DailyHistory(AtomicJsonStore(tmp_path))
    days = [await fresh.load_day(d) for d in (DAY_1, DAY_2)]
    assert [[e.member_id for e in d.events] for d in days if d] == [[KEPT], [KEPT]]


async def test_older_copies_naming_the_member_are_deleted_and_nothing_under_data_dir_names_it(
    tmp_path: Path,
) -> None:
    """The store's .bak copies holding the member are deleted: no file under DATA_DIR contains the id."""
    store, history = await seed(tmp_path)
    found = await forget_member(store, history, FORGOTTEN, backup_dir=tmp_path / "backups", keep_archives=7)
    assert found.copies_deleted
    naming = mentions(FORGOTTEN)
    files = [p for p in sorted(tmp_path.rglob("*")) if p.is_file()]  # noqa: ASYNC240 - a test's tmp folder
    assert [p for p in files if naming.search(p.read_bytes())] == []
    assert found.still_named_in == []


async def test_files_it_does_not_own_and_archives_are_listed_with_when_rotation_drops_them(
    tmp_path: Path,
) -> None:
    """The original bot's member_stats.json and an older archive still name the member: both are listed."""
    store, history = await seed(tmp_path / "data")
    legacy = {"joins": [{"id": int(FORGOTTEN), "name": "x", "time": "2026-11-20T10:00:00"}]}
    (tmp_path / "data" / "member_stats.json").write_text(json.dumps(legacy), encoding="utf-8")
    archive = make_archive(tmp_path / "data", tmp_path / "backups", datetime(2026, 11, 28, tzinfo=UTC))
    found = await forget_member(store, history, FORGOTTEN, backup_dir=tmp_path / "backups", keep_archives=7)
    assert found.still_named_in == ["member_stats.json"]
    assert found.archives == [(archive.path.name, datetime(2026, 12, 5, tzinfo=UTC))]
    text = forget_summary(found)
    assert "Removed 2 events of member 123456789012345678 from 2 day files" in text
    assert "files StatsBot does not rewrite (delete or edit them yourself): member_stats.json" in text
    assert f"Backup archive {archive.path.name} still holds them" in text
    assert "rotation deletes it by 2026-12-05" in text


def test_an_id_inside_a_longer_id_is_not_the_member() -> None:
    """1234… is not found inside 11234…: only whole numbers match."""
    naming = mentions("12345678901234567")
    assert naming.search(b'"member_id":"12345678901234567"')
    assert not naming.search(b'"member_id":"112345678901234567"')
    assert not naming.search(b'"member_id":"123456789012345670"')


async def test_forget_refuses_while_the_bot_runs_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the bot's lock held `forget` exits 1, saying to stop the bot first; the days are untouched."""
    await seed(tmp_path)
    before = (tmp_path / "events" / "2026-11-20.json").read_bytes()
    with RunLock(tmp_path):
        assert await forget(make_settings(data_dir=tmp_path), FORGOTTEN) == 1
    assert "stop it, run forget, then start it again" in capsys.readouterr().err
    assert (tmp_path / "events" / "2026-11-20.json").read_bytes() == before


async def test_forget_of_a_member_never_seen_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A member StatsBot never recorded: exit 0 and one line saying there is nothing."""
    await seed(tmp_path)
    assert await forget(make_settings(data_dir=tmp_path), "999999999999999999") == 0
    assert capsys.readouterr().out.strip() == "StatsBot's records hold nothing of member 999999999999999999."


async def test_log_files_naming_the_member_are_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A log line with the member's id is not rewritten: forget says which log files still hold it."""
    await seed(tmp_path / "data")
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "statsbot.log").write_text(f'{{"event": "events.leave_was_ban", "member_id": "{FORGOTTEN}"}}\n')
    settings = make_settings(data_dir=tmp_path / "data", log_dir=logs)
    assert await forget(settings, FORGOTTEN) == 0
    out = capsys.readouterr().out
    assert "Removed 2 events of member 123456789012345678 from 2 day files" in out
    assert f"Log files that name them (kept LOG_RETENTION_DAYS; delete them to erase it now): {logs}" in out


async def test_a_data_dir_that_does_not_exist_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A mistyped DATA_DIR: exit 2 saying it does not exist, and no folder appears."""
    missing = tmp_path / "typo"
    assert await forget(make_settings(data_dir=missing), FORGOTTEN) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not missing.exists()
