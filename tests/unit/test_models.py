"""Models: the day file's JSON text is exactly the model's JSON, built from cached event fragments."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from src.types.models import DailyStats, EventKind, MemberEvent


def _event(i: int, kind: EventKind = EventKind.JOIN) -> MemberEvent:
    return MemberEvent(
        kind=kind, member_id=str(10**17 + i), username=f"user{i}", timestamp=datetime(2026, 1, 1, tzinfo=UTC)
    )


def test_day_json_text_round_trips():
    """to_json_text parses back to the same day, ids as strings and the schema version included."""
    day = DailyStats(
        date=date(2026, 1, 1), events=[_event(1), _event(2, EventKind.BAN)], member_count_start=7
    )
    text = day.to_json_text()
    assert DailyStats.model_validate_json(text) == day
    parsed = json.loads(text)
    assert parsed == day.model_dump(mode="json")
    assert parsed["schema_version"] == 1
    assert parsed["events"][0]["member_id"] == "100000000000000001"


def test_empty_day_json_text_is_valid():
    """A day without events still serialises to valid JSON."""
    assert json.loads(DailyStats(date=date(2026, 1, 1)).to_json_text())["events"] == []


def test_event_json_is_serialised_once():
    """The cached fragment is reused, which is what keeps a per-second rewrite of a busy day cheap."""
    event = _event(3)
    assert event.json_text is event.json_text
