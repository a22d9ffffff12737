"""Channel-name normalisation and message/embed limits."""

from __future__ import annotations

from typing import Any

import pytest

from src.sandbox.responses import ApiError
from src.sandbox.validation import check_channel_name, check_message, normalise_channel_name


def test_text_channel_name_is_lowercased_and_hyphenated() -> None:
    """Discord turns "Bans: 89" into "bans-89" for a text channel."""
    assert normalise_channel_name("Bans: 89", 0) == "bans-89"


def test_voice_channel_name_is_kept() -> None:
    """Voice channel names keep capitals, spaces and colons."""
    assert normalise_channel_name("Bans: 89", 2) == "Bans: 89"


def test_text_channel_name_collapses_dashes() -> None:
    """Runs of separators become a single dash."""
    assert normalise_channel_name("Members  -  1 000", 0) == "members-1-000"


def test_emoji_survive_in_text_names() -> None:
    """Emoji are not ASCII punctuation and are kept."""
    assert normalise_channel_name("📊 Stats", 0) == "📊-stats"


@pytest.mark.parametrize("name", ["", "x" * 101])
def test_name_length_outside_1_to_100_is_rejected(name: str) -> None:
    """Names must be 1-100 characters."""
    with pytest.raises(ApiError) as caught:
        check_channel_name(name, 2)
    assert caught.value.code == 50035


def test_content_over_2000_is_rejected() -> None:
    """Content is limited to 2000 characters."""
    with pytest.raises(ApiError) as caught:
        check_message({"content": "x" * 2001})
    assert "content" in (caught.value.errors or {})


@pytest.mark.parametrize(
    ("embed", "field"),
    [
        ({"title": "t" * 257}, "title"),
        ({"description": "d" * 4097}, "description"),
        ({"footer": {"text": "f" * 2049}}, "footer"),
        ({"fields": [{"name": "n", "value": "v"}] * 26}, "fields"),
        ({"fields": [{"name": "n" * 257, "value": "v"}]}, "fields"),
        ({"fields": [{"name": "n", "value": "v" * 1025}]}, "fields"),
    ],
)
def test_embed_limits_are_enforced(embed: dict[str, Any], field: str) -> None:
    """Each embed limit produces a 400 naming the offending field."""
    with pytest.raises(ApiError) as caught:
        check_message({"embeds": [embed]})
    assert caught.value.status == 400
    assert field in caught.value.errors["embeds"]["0"]  # type: ignore[index]


def test_embeds_total_over_6000_is_rejected() -> None:
    """All embeds of a message together may hold at most 6000 characters."""
    embeds = [{"description": "d" * 4000}, {"description": "d" * 2001}]
    with pytest.raises(ApiError) as caught:
        check_message({"embeds": embeds})
    assert caught.value.code == 50035


def test_more_than_ten_embeds_is_rejected() -> None:
    """A message carries at most 10 embeds."""
    with pytest.raises(ApiError):
        check_message({"embeds": [{"title": "t"}] * 11})


def test_empty_message_is_rejected() -> None:
    """A message without content or embeds is refused with 50006."""
    with pytest.raises(ApiError) as caught:
        check_message({})
    assert caught.value.code == 50006


def test_valid_embed_gets_rich_type() -> None:
    """Stored embeds carry Discord's default type."""
    _, embeds = check_message({"embeds": [{"title": "ok"}]})
    assert embeds == [{"title": "ok", "type": "rich"}]
