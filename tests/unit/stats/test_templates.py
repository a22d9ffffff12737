"""Tests for counter templates: parsing untrusted text, the formats, and every way a template is refused."""

from __future__ import annotations

import time

import pytest

from src.core.config import MAX_CHANNEL_NAME
from src.services.stats.templates import (
    FORMATS,
    PLACEHOLDERS,
    CounterTemplate,
    Placeholder,
    TemplateError,
    format_count,
)

ROLE = "role:123456789012345678"
VALUES = {
    "members": 1234,
    "humans": 1200,
    "bots": 34,
    "online": 456,
    "bans": 7,
    "boosts": 14,
    "boost_tier": 2,
    "channels": 42,
    "roles": 12,
    ROLE: 98765,
    "goal": 1500,
}


def test_placeholders_are_listed_in_display_order():
    assert list(PLACEHOLDERS) == [
        "members",
        "humans",
        "bots",
        "online",
        "bans",
        "boosts",
        "boost_tier",
        "channels",
        "roles",
        "role:ROLE_ID",
        "goal",
        "count",
    ]
    assert all(PLACEHOLDERS.values())
    assert FORMATS == ("", ",", "compact")


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        pytest.param(1234, "", "1234", id="plain"),
        pytest.param(1234, ",", "1,234", id="comma"),
        pytest.param(1_234_567, ",", "1,234,567", id="comma-millions"),
        pytest.param(999, ",", "999", id="comma-small"),
        pytest.param(0, "", "0", id="plain-zero"),
        pytest.param(0, "compact", "0", id="compact-zero"),
        pytest.param(999, "compact", "999", id="compact-below-thousand"),
        pytest.param(1000, "compact", "1K", id="compact-thousand-drops-dot-zero"),
        pytest.param(1049, "compact", "1K", id="compact-floor-to-dot-zero"),
        pytest.param(1234, "compact", "1.2K", id="compact-one-decimal"),
        pytest.param(1999, "compact", "1.9K", id="compact-floor-never-rounds-up"),
        pytest.param(12_345, "compact", "12.3K", id="compact-tens"),
        pytest.param(99_999, "compact", "99.9K", id="compact-just-below-hundred"),
        pytest.param(100_000, "compact", "100K", id="compact-hundred-no-decimal"),
        pytest.param(123_456, "compact", "123K", id="compact-hundreds"),
        pytest.param(999_999, "compact", "999K", id="compact-floor-below-million"),
        pytest.param(1_000_000, "compact", "1M", id="compact-million"),
        pytest.param(1_234_567, "compact", "1.2M", id="compact-millions"),
        pytest.param(1_999_999, "compact", "1.9M", id="compact-floor-millions"),
        pytest.param(999_999_999, "compact", "999M", id="compact-floor-below-billion"),
        pytest.param(1_000_000_000, "compact", "1B", id="compact-billion"),
        pytest.param(1_999_999_999, "compact", "1.9B", id="compact-floor-billions"),
        pytest.param(-1234, "", "-1234", id="negative-plain"),
        pytest.param(-1234, ",", "-1,234", id="negative-comma"),
        pytest.param(-1999, "compact", "-1.9K", id="negative-compact"),
    ],
)
def test_format_count(value, fmt, expected):
    assert format_count(value, fmt) == expected


@pytest.mark.parametrize("value", [0, 7, 999, 1000, 1234, 10**6, 123_456_789, 10**12])
def test_comma_is_pythons_thousands_separator(value):
    assert format_count(value, ",") == format(value, ",")


def test_format_count_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="unknown format"):
        format_count(1, ">10")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("{members}", "1234", id="members"),
        pytest.param("{humans}", "1200", id="humans"),
        pytest.param("{bots}", "34", id="bots"),
        pytest.param("{online}", "456", id="online"),
        pytest.param("{bans}", "7", id="bans"),
        pytest.param("{boosts}", "14", id="boosts"),
        pytest.param("{boost_tier}", "2", id="boost-tier"),
        pytest.param("{channels}", "42", id="channels"),
        pytest.param("{roles}", "12", id="roles"),
        pytest.param("{role:123456789012345678}", "98765", id="role"),
        pytest.param("{goal}", "1500", id="goal"),
        pytest.param("{members:,}", "1,234", id="members-comma"),
        pytest.param("{members:compact}", "1.2K", id="members-compact"),
        pytest.param("{members:}", "1234", id="empty-format-is-plain"),
        pytest.param("{role:123456789012345678:,}", "98,765", id="role-comma"),
        pytest.param("{role:123456789012345678:compact}", "98.7K", id="role-compact"),
        pytest.param("👥 {members:,} · 🤖 {bots}", "👥 1,234 · 🤖 34", id="combined-emoji"),
        pytest.param("{members} / {goal:,} 🎯", "1234 / 1,500 🎯", id="goal"),
        pytest.param("{{{members}}}", "{1234}", id="escaped-braces-around-placeholder"),
        pytest.param("{{ {bots} }}", "{ 34 }", id="escaped-braces-with-spaces"),
        pytest.param("  {online}  ", "456", id="surrounding-spaces-stripped"),
        pytest.param("Ünïcödé ✨ {boosts} 🚀 boosts", "Ünïcödé ✨ 14 🚀 boosts", id="unicode-preserved"),
        pytest.param("{members}{bots}", "123434", id="adjacent-placeholders"),
    ],
)
def test_render(text, expected):
    assert CounterTemplate.parse(text).render(VALUES) == expected


@pytest.mark.parametrize(
    ("text", "count_key", "expected"),
    [
        pytest.param("👥 Members: {count:,}", "members", "👥 Members: 1,234", id="original-members"),
        pytest.param("🟢 Online: {count:,}", "online", "🟢 Online: 456", id="original-online"),
        pytest.param("🔨 Bans: {count:,}", "bans", "🔨 Bans: 7", id="original-bans"),
        pytest.param("{count:compact}", "members", "1.2K", id="count-compact"),
        pytest.param("{count} of {goal}", "members", "1234 of 1500", id="count-with-goal"),
        pytest.param("{count}", ROLE, "98765", id="count-of-a-role"),
        pytest.param("{members}", "bans", "1234", id="count-key-unused"),
    ],
)
def test_count_resolves_to_the_count_key(text, count_key, expected):
    assert CounterTemplate.parse(text, count_key=count_key).render(VALUES) == expected


def test_count_is_resolved_at_parse_time():
    template = CounterTemplate.parse("👥 Members: {count:,}", count_key="members")
    assert template.parts == ("👥 Members: ", Placeholder("members", ","))
    assert template.text == "👥 Members: {count:,}"


def test_count_without_count_key_asks_for_a_name():
    with pytest.raises(TemplateError, match=r"\{count:,\}.*name what to count.*\{members\}"):
        CounterTemplate.parse("👥 Members: {count:,}")


def test_count_key_must_be_a_known_key():
    with pytest.raises(ValueError, match="count_key") as caught:
        CounterTemplate.parse("{count}", count_key="members.__class__")
    assert not isinstance(caught.value, TemplateError)  # a caller's bug, not the user's


@pytest.mark.parametrize(
    ("text", "keys", "main_key"),
    [
        pytest.param("{members}", {"members"}, "members", id="one"),
        pytest.param("👥 {members:,} · 🤖 {bots}", {"members", "bots"}, "members", id="two"),
        pytest.param("🤖 {bots} of {members} ({bots:compact})", {"members", "bots"}, "bots", id="repeated"),
        pytest.param("{role:123456789012345678}", {ROLE}, ROLE, id="role"),
        pytest.param("{goal} goal, {count} now", {"goal", "online"}, "goal", id="count-not-first"),
    ],
)
def test_keys_and_main_key(text, keys, main_key):
    template = CounterTemplate.parse(text, count_key="online")
    assert template.keys == keys
    assert template.main_key == main_key


def test_parts_merge_escapes_into_literal_text():
    template = CounterTemplate.parse("{{a}} {members:compact} }}")
    assert template.parts == ("{a} ", Placeholder("members", "compact"), " }")


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"members": 1}, id="bots-missing"),
        pytest.param({"bots": 1, "humans": 3}, id="members-missing"),
    ],
)
def test_render_is_none_while_a_value_is_missing(values):
    template = CounterTemplate.parse("👥 {members:,} · 🤖 {bots}")
    assert template.render(values) is None
    assert template.render_values(values) is None


def test_render_values_keeps_only_the_needed_keys():
    template = CounterTemplate.parse("👥 {members:,} · 🤖 {bots}")
    assert template.render_values(VALUES) == {"members": 1234, "bots": 34}


def test_render_clips_numbers_beyond_the_worst_case():
    template = CounterTemplate.parse("x" * 90 + " {members}")  # 100 characters at 999,999,999
    name = template.render({"members": 10**30})
    assert name is not None
    assert len(name) == MAX_CHANNEL_NAME


def test_longest_allowed_name_fits_exactly():
    template = CounterTemplate.parse("x" * 89 + "{members:,}")  # 89 + len("999,999,999")
    assert template.render({"members": 999_999_999}) == "x" * 89 + "999,999,999"


def test_templates_are_frozen_and_hashable():
    template = CounterTemplate.parse("{members}")
    assert template == CounterTemplate.parse("{members}")
    assert hash(template) == hash(CounterTemplate.parse(" {members} "))
    with pytest.raises(AttributeError):
        template.text = "{bots}"  # type: ignore[misc]


ALLOWED = "use one of {members}, {humans}"
PLAIN_FORMS = "use {members}, {members:,} or {members:compact}"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param("", ["empty", "{members}"], id="empty"),
        pytest.param("   ", ["empty", "{members}"], id="blank"),
        pytest.param("Members", ["no placeholder", "add one such as {members}"], id="no-placeholder"),
        pytest.param("{{members}}", ["no placeholder"], id="only-escapes"),
        pytest.param("{memberz}", ["Unknown placeholder {memberz}", ALLOWED, "{role:ROLE_ID}"], id="unknown"),
        pytest.param("{Members}", ["Unknown placeholder {Members}"], id="case-matters"),
        pytest.param(
            "{role:ROLE_ID}", ["'ROLE_ID'", "not a role id", "17-20 digit"], id="role-id-typed-as-help"
        ),
        pytest.param("{role}", ["{role} needs a role id", "{role:123456789012345678}"], id="role-without-id"),
        pytest.param("{role:}", ["needs a role id"], id="role-with-empty-id"),
        pytest.param(
            "{role:1234567890123456}", ["'1234567890123456'", "not a role id"], id="role-id-16-digits"
        ),
        pytest.param("{role:123456789012345678901}", ["not a role id"], id="role-id-21-digits"),
        pytest.param("{role:١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨}", ["not a role id"], id="role-id-non-ascii-digits"),
        pytest.param(
            "{role:123456789012345678:>3}",
            ["Format '>3'", "{role:123456789012345678:compact}"],
            id="role-bad-format",
        ),
        pytest.param("{members:>10}", ["Format '>10' in {members:>10}", PLAIN_FORMS], id="format-align"),
        pytest.param("{members:05d}", ["Format '05d'", PLAIN_FORMS], id="format-zero-pad"),
        pytest.param("{members:.2f}", ["Format '.2f'", PLAIN_FORMS], id="format-float"),
        pytest.param("{members:_}", ["Format '_'", PLAIN_FORMS], id="format-underscore"),
        pytest.param("{members:,:,}", ["Format ',:,'"], id="format-twice"),
        pytest.param("{bots:Compact}", ["Format 'Compact'", "{bots:compact}"], id="format-case-matters"),
        pytest.param("{ members }", ["Spaces are not allowed inside braces", "as {members}"], id="spaces"),
        pytest.param("{members :,}", ["Spaces", "as {members:,}"], id="space-before-colon"),
        pytest.param("{members:\t,}", ["Spaces"], id="tab"),
        pytest.param("Members: {members", ["{ at character 10", "never closed", "'{members'"], id="unclosed"),
        pytest.param("{members} {", ["{ at character 11", "never closed"], id="unclosed-at-end"),
        pytest.param(
            "Members} {members}", ["} at character 8", "no opening", "'Members}'"], id="stray-close"
        ),
        pytest.param("{members}}", ["} at character 10", "write }} for a literal brace"], id="stray-after"),
        pytest.param("{members{bots}}", ["cannot be nested", "'{members{bots}'"], id="nested"),
        pytest.param("{members:{bots}}", ["cannot be nested"], id="nested-format"),
        pytest.param("{members}" * 11, ["more than 10 placeholders"], id="eleven-placeholders"),
        pytest.param("x" * 201 + "{members}", ["210 characters", "200 or fewer"], id="over-200-characters"),
        pytest.param(
            "x" * 90 + "{members:,}", ["could reach 101 characters", "at most 100"], id="name-too-long"
        ),
        pytest.param(
            "{members:,} " * 9 + "{bots:,}",
            ["could reach 119 characters", "{members:compact}"],
            id="many-placeholders-too-long",
        ),
    ],
)
def test_rejected(text, fragments):
    with pytest.raises(TemplateError) as caught:
        CounterTemplate.parse(text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        pytest.param("{members.__class__}", ["{members.__class__}", PLAIN_FORMS], id="attribute"),
        pytest.param("{members[0]}", ["{members[0]}", PLAIN_FORMS], id="index"),
        pytest.param("{members!r}", ["{members!r}", PLAIN_FORMS], id="conversion"),
        pytest.param("{members!r:>10}", ["{members!r:>10}", PLAIN_FORMS], id="conversion-and-width"),
        pytest.param(
            "{count.__init__.__globals__}", ["{count.__init__.__g", "{count:compact}"], id="globals"
        ),
        pytest.param("{members:>999999999}", ["Format '>999999999'", PLAIN_FORMS], id="huge-width"),
        pytest.param("{members:{members}}", ["cannot be nested"], id="nested-width"),
        pytest.param("{0}", ["Unknown placeholder {0}", ALLOWED], id="positional"),
        pytest.param("{}", ["Empty braces {}", "{members}"], id="auto-numbered"),
        pytest.param("{__class__}", ["Unknown placeholder {__class__}"], id="dunder"),
        pytest.param("{" + "a" * 150 + "}", ["{" + "a" * 38 + "…"], id="long-name-is-clipped"),
        pytest.param("{members}" * 2000, ["18000 characters"], id="ten-thousand-characters"),
        pytest.param("{" * 10_000, ["10000 characters"], id="ten-thousand-braces"),
    ],
)
def test_attacks_are_rejected_and_never_evaluated(text, fragments):
    started = time.perf_counter()
    with pytest.raises(TemplateError) as caught:
        CounterTemplate.parse(text, count_key="members")
    assert time.perf_counter() - started < 0.1
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message
    assert "<class" not in message  # nothing was looked up on the value
    assert len(message) < 300


def test_count_syntax_without_count_key_is_an_unknown_placeholder():
    with pytest.raises(TemplateError, match=r"Unknown placeholder \{count!r\}: use one of \{members\}"):
        CounterTemplate.parse("{count!r}")


def test_unknown_placeholder_lists_count_only_where_it_has_a_value():
    with pytest.raises(TemplateError) as without:
        CounterTemplate.parse("{memberz}")
    with pytest.raises(TemplateError) as with_count:
        CounterTemplate.parse("{memberz}", count_key="members")
    assert "{count}" not in str(without.value)
    assert str(with_count.value).endswith("{goal}, {count}.")


def test_every_listed_placeholder_parses():
    for name in PLACEHOLDERS:
        text = "{" + name.replace("ROLE_ID", "123456789012345678") + "}"
        for fmt in FORMATS:
            spec = text if not fmt else text[:-1] + ":" + fmt + "}"
            assert CounterTemplate.parse(spec, count_key="members").render(VALUES)
