"""`export`: the recorded events and daily counts of a range, as a CSV a spreadsheet opens safely, or JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from src.core.offline import export
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats, EventKind, MemberEvent
from src.utils.store import AtomicJsonStore
from tests.fakes import make_settings

DAY = date(2026, 11, 20)


async def seed(root: Path) -> None:
    """One day with a join (a name a spreadsheet would run as a formula), a ban, and the day's counts."""
    history = DailyHistory(AtomicJsonStore(root))
    join = MemberEvent(
        kind=EventKind.JOIN,
        member_id="123456789012345678",
        username="=HYPERLINK(1)",
        display_name="Ada",
        timestamp=datetime(2026, 11, 20, 15, 30, tzinfo=UTC),
    )
    ban = MemberEvent(
        kind=EventKind.BAN,
        member_id="5",
        username="spam",
        bot=True,
        timestamp=datetime(2026, 11, 20, 16, tzinfo=UTC),
    )
    await history.save_day(
        DailyStats(date=DAY, events=[ban, join], member_count_start=1000, member_count_end=1002)
    )


async def test_csv_has_one_row_per_event_and_a_daily_count_in_local_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events in time order with their members, then the day's member count; times in TIMEZONE."""
    await seed(tmp_path)
    settings = make_settings(data_dir=tmp_path, timezone="Europe/Berlin")
    assert await export(settings, DAY, DAY, "csv", None) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["time"], r["record"], r["kind"], r["member_id"]) for r in rows] == [
        ("2026-11-20T16:30:00+01:00", "event", "join", "123456789012345678"),
        ("2026-11-20T17:00:00+01:00", "event", "ban", "5"),
        ("2026-11-20T23:59:59+01:00", "count", "members", ""),
    ]
    assert (rows[2]["low"], rows[2]["high"], rows[2]["value"]) == ("1000", "1002", "1002")
    assert rows[1]["bot"] == "true"


async def test_a_username_that_looks_like_a_formula_is_quoted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`=HYPERLINK(1)` is written as `'=HYPERLINK(1)`, so a spreadsheet shows it instead of running it."""
    await seed(tmp_path)
    assert await export(make_settings(data_dir=tmp_path), DAY, DAY, "csv", None) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["username"] == "'=HYPERLINK(1)"


async def test_json_to_a_file_says_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--format json --out writes one document with the range, zone and rows, and says how many."""
    await seed(tmp_path / "data")
    out = tmp_path / "export.json"
    settings = make_settings(data_dir=tmp_path / "data", timezone="UTC")
    assert await export(settings, DAY, date(2026, 11, 21), "json", out) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert (document["from"], document["to"], document["timezone"]) == ("2026-11-20", "2026-11-21", "UTC")
    assert [row["kind"] for row in document["rows"]] == ["join", "ban", "members"]
    assert (document["rows"][1]["bot"], document["rows"][2]["low"], document["rows"][2]["value"]) == (
        True,
        1000,
        1002,
    )
    assert capsys.readouterr().out.startswith(f"Wrote {out}: 2 events and 1 daily counts")


async def test_a_range_that_ends_before_it_starts_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--from after --to is refused with the two dates."""
    assert await export(make_settings(data_dir=tmp_path), date(2026, 11, 21), DAY, "csv", None) == 2
    assert "--from 2026-11-21 is after --to 2026-11-20" in capsys.readouterr().err


async def test_a_range_of_decades_is_exported_without_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--from 2000-01-01: the count history is read in spans it accepts; the day's rows are there."""
    await seed(tmp_path)
    assert await export(make_settings(data_dir=tmp_path), date(2000, 1, 1), DAY, "csv", None) == 0
    assert capsys.readouterr().out.count(",event,") == 2


async def test_an_output_file_that_cannot_be_written_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out into a folder that does not exist: exit 1 and one line saying so, no traceback."""
    await seed(tmp_path)
    assert await export(make_settings(data_dir=tmp_path), DAY, DAY, "csv", tmp_path / "no" / "x.csv") == 1
    assert "export: cannot write" in capsys.readouterr().err
