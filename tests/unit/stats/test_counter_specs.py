"""Tests for where counters are declared: the original's variables and COUNTERS_FILE's [[counter]] tables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from src.core.config import Settings
from src.core.exceptions import ConfigError
from src.services.stats.counter_specs import configured_counters, environment_counters, read_counters_file
from src.services.stats.templates import CounterTemplate, TemplateError
from src.types.models import CounterKind, CounterSource, CounterSpec

CHANNEL = 123456789012345678
OTHER_CHANNEL = 223456789012345678

GOOD_FILE = f"""
# two counters; ids may be quoted, as JSON needs them to be
[[counter]]
channel = {CHANNEL}
template = "🤖 Bots: {{bots:,}}"

[[counter]]
channel = "{OTHER_CHANNEL}"
template = "⭐ {{role:333456789012345678}} · 👥 {{members:compact}}"
"""


def counters_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "counters.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path, taken: set[int] | None = None) -> list[str]:
    """The problems read_counters_file reports for `path` (it must refuse the file)."""
    with pytest.raises(ConfigError) as caught:
        read_counters_file(path, taken)
    return caught.value.problems


def table(channel: str = str(CHANNEL), template: str = '"👥 {members:,}"', extra: str = "") -> str:
    """One [[counter]] table as TOML, each value given as TOML source text ("" leaves the key out)."""
    lines = ["[[counter]]"]
    if channel:
        lines.append(f"channel = {channel}")
    if template:
        lines.append(f"template = {template}")
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


# --- the environment -------------------------------------------------------------------------------------


def test_environment_gives_the_originals_three_counters(make_settings: Callable[..., Settings]) -> None:
    """MEMBER/ONLINE/BAN_COUNT_CHANNEL_ID each give a counter with its template, in that order."""
    specs = environment_counters(make_settings())
    assert specs == [
        CounterSpec(
            1001, "👥 Members: {count:,}", CounterSource.ENVIRONMENT, "members", "MEMBER_COUNT_CHANNEL_ID"
        ),
        CounterSpec(
            1002, "🟢 Online: {count:,}", CounterSource.ENVIRONMENT, "online", "ONLINE_COUNT_CHANNEL_ID"
        ),
        CounterSpec(1003, "🔨 Bans: {count:,}", CounterSource.ENVIRONMENT, "bans", "BAN_COUNT_CHANNEL_ID"),
    ]


def test_environment_count_placeholder_reads_each_counters_value(
    make_settings: Callable[..., Settings],
) -> None:
    """{count} shows members, online and bans respectively, labelled Members, Online and Bans."""
    specs = environment_counters(make_settings())
    keys = [CounterTemplate.parse(spec.template, count_key=spec.count_key).keys for spec in specs]
    assert keys == [{CounterKind.MEMBERS}, {CounterKind.ONLINE}, {CounterKind.BANS}]
    assert [spec.label for spec in specs] == ["Members", "Online", "Bans"]


def test_environment_templates_are_the_operators(make_settings: Callable[..., Settings]) -> None:
    """A custom MEMBER_COUNT_TEMPLATE is what the members counter shows."""
    [members, *_] = environment_counters(make_settings(member_count_template="Members {count}"))
    assert members.template == "Members {count}"
    assert CounterTemplate.parse(members.template, count_key=members.count_key).render({"members": 7}) == (
        "Members 7"
    )


def test_an_unset_channel_variable_gives_no_counter(make_settings: Callable[..., Settings]) -> None:
    """Without ONLINE_COUNT_CHANNEL_ID (left for /setup) only members and bans are counters."""
    specs = environment_counters(make_settings(online_count_channel_id=""))
    assert [(spec.channel_id, spec.count_key) for spec in specs] == [(1001, "members"), (1003, "bans")]


# --- a good file -----------------------------------------------------------------------------------------


def test_good_file_gives_its_counters_in_order(tmp_path: Path) -> None:
    """Two [[counter]] tables, one id quoted, give two file counters with their templates and emoji intact."""
    specs = read_counters_file(counters_file(tmp_path, GOOD_FILE))
    assert specs == [
        CounterSpec(CHANNEL, "🤖 Bots: {bots:,}", CounterSource.FILE, setting="COUNTERS_FILE counter 1"),
        CounterSpec(
            OTHER_CHANNEL,
            "⭐ {role:333456789012345678} · 👥 {members:compact}",
            CounterSource.FILE,
            setting="COUNTERS_FILE counter 2",
        ),
    ]


def test_a_file_without_counters_gives_none(tmp_path: Path) -> None:
    """An empty (or comment-only) file declares no counters and is not an error."""
    assert read_counters_file(counters_file(tmp_path, "# nothing yet\n")) == []


def test_configured_counters_are_the_environments_then_the_files(
    tmp_path: Path, make_settings: Callable[..., Settings]
) -> None:
    """With COUNTERS_FILE set, the three environment counters come first, then the file's."""
    path = counters_file(tmp_path, GOOD_FILE)
    specs = configured_counters(make_settings(counters_file=path))
    assert [spec.channel_id for spec in specs] == [1001, 1002, 1003, CHANNEL, OTHER_CHANNEL]
    assert [spec.source for spec in specs] == [CounterSource.ENVIRONMENT] * 3 + [CounterSource.FILE] * 2


def test_configured_counters_without_a_file_are_the_environments(
    make_settings: Callable[..., Settings],
) -> None:
    """Without COUNTERS_FILE only the original's three counters are configured."""
    assert configured_counters(make_settings()) == environment_counters(make_settings())


# --- problems --------------------------------------------------------------------------------------------


def test_missing_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    """A COUNTERS_FILE that does not exist says so and how to fix it."""
    path = tmp_path / "nope.toml"
    assert problems_of(path) == [
        f"COUNTERS_FILE={str(path)!r} does not exist. Create it or unset COUNTERS_FILE."
    ]


def test_unreadable_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    """A folder or a file that is not UTF-8 is reported as unreadable, not as a traceback."""
    assert "cannot be read" in problems_of(tmp_path)[0]
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[[counter]]\ntemplate = "caf\xe9 {members}"\n')
    assert "cannot be read" in problems_of(path)[0]


def test_invalid_toml_says_where(tmp_path: Path) -> None:
    """A syntax error names the file and the line TOML stopped at."""
    path = counters_file(tmp_path, "[[counter]]\nchannel = \n")
    [problem] = problems_of(path)
    assert problem.startswith(f"COUNTERS_FILE={str(path)!r} is not valid TOML:")
    assert "line 2" in problem


def test_unknown_top_level_key(tmp_path: Path) -> None:
    """A key outside [[counter]] tables is named, with the way to declare counters."""
    path = counters_file(tmp_path, 'title = "my counters"\n' + table())
    assert problems_of(path) == [
        f"{path}: unknown top-level key 'title'; declare counters as [[counter]] tables."
    ]


@pytest.mark.parametrize(
    "text",
    [f"[counter]\nchannel = {CHANNEL}\n", 'counter = "x"\n'],
    ids=["single-table", "text"],
)
def test_counter_that_is_not_an_array_of_tables(tmp_path: Path, text: str) -> None:
    """[counter] (one table) or counter = "x" is refused with the [[counter]] syntax to use."""
    path = counters_file(tmp_path, text)
    assert problems_of(path) == [f"{path}: 'counter' must be [[counter]] tables."]


def test_entry_that_is_not_a_table(tmp_path: Path) -> None:
    """An entry of `counter = [1]` is not a table: the entry is named."""
    path = counters_file(tmp_path, "counter = [1]\n")
    assert problems_of(path) == [
        f"{path}: counter 1 is not a table; write each counter as a [[counter]] table."
    ]


def test_unknown_keys_in_a_table(tmp_path: Path) -> None:
    """Keys other than channel and template are listed, with the keys a counter has."""
    path = counters_file(tmp_path, table(extra='name = "bots"\ncolour = 3'))
    assert problems_of(path) == [
        f"{path}: counter 1 has unknown keys colour, name; a counter has only channel and template."
    ]


@pytest.mark.parametrize(
    ("channel", "shown"),
    [
        ('"abc"', "'abc'"),
        ("0", "0"),
        ("-5", "-5"),
        ("1.5", "1.5"),
        ("true", "True"),
        ('"12 34"', "'12 34'"),
        ('"²"', "'²'"),  # str.isdigit says yes, int() says no
        ("[1]", "[1]"),
    ],
)
def test_bad_channel(tmp_path: Path, channel: str, shown: str) -> None:
    """A channel that is not a positive id is reported with an example id and the value given."""
    path = counters_file(tmp_path, table(channel=channel))
    assert problems_of(path) == [
        f"{path}: counter 1: channel must be a channel id such as 123456789012345678, got {shown}."
    ]


def test_missing_channel(tmp_path: Path) -> None:
    """A table without a channel says to add one."""
    path = counters_file(tmp_path, table(channel=""))
    assert problems_of(path) == [
        f"{path}: counter 1 has no channel: add channel = 123456789012345678 (the channel's id)."
    ]


def test_duplicate_channel_in_the_file(tmp_path: Path) -> None:
    """Two tables on one channel (quoted or not): the second is refused, naming the first."""
    path = counters_file(tmp_path, table() + table(channel=f'"{CHANNEL}"'))
    assert problems_of(path) == [
        f"{path}: counter 2: channel {CHANNEL} already shows counter 1; use one channel per counter."
    ]


def test_channel_taken_by_the_environment(tmp_path: Path, make_settings: Callable[..., Settings]) -> None:
    """A file counter on MEMBER_COUNT_CHANNEL_ID's channel is refused: one channel shows one counter."""
    path = counters_file(tmp_path, table(channel="1001"))
    with pytest.raises(ConfigError) as caught:
        configured_counters(make_settings(counters_file=path))
    assert caught.value.problems == [
        f"{path}: counter 1: channel 1001 already shows a counter set in the environment; "
        "use one channel per counter."
    ]


def test_missing_template(tmp_path: Path) -> None:
    """A table without a template says to add one, with an example."""
    path = counters_file(tmp_path, table(template=""))
    assert problems_of(path) == [
        f'{path}: counter 1 has no template: add template = "👥 {{members:,}}" (or another).'
    ]


def test_template_that_is_not_text(tmp_path: Path) -> None:
    """A template that is a number is refused with an example of text."""
    path = counters_file(tmp_path, table(template="5"))
    assert problems_of(path) == [
        f'{path}: counter 1: template must be text such as "👥 {{members:,}}", got 5.'
    ]


@pytest.mark.parametrize(
    "template",
    ["🤖 {robots}", "{members", "no placeholder", "", "{count}", "{role:42}", "x" * 95 + "{members}"],
    ids=["unknown", "unclosed", "no-placeholder", "empty", "count", "bad-role", "too-long"],
)
def test_bad_template_reports_the_template_error(tmp_path: Path, template: str) -> None:
    """An unusable template is reported with the table and the parser's own message (its fix)."""
    with pytest.raises(TemplateError) as parsed:
        CounterTemplate.parse(template)
    path = counters_file(tmp_path, table(template=f'"{template}"'))
    assert problems_of(path) == [f"{path}: counter 1: {parsed.value}"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    """Problems in several tables, and several in one table, all come in one ConfigError, in file order."""
    text = (
        'title = "x"\n'
        + table(channel="11")  # fine
        + table(channel='"abc"', template='"{robots}"')  # two problems in one table
        + table(channel="13", extra="name = 1")
        + table(channel="14", template="")
        + table(channel="15", template='"{count}"')  # wrong, but its channel is still claimed
        + table(channel="15")  # so this duplicate is reported in the same run
    )
    path = counters_file(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_counters_file(path)
    with pytest.raises(TemplateError) as robots:
        CounterTemplate.parse("{robots}")
    with pytest.raises(TemplateError) as count:
        CounterTemplate.parse("{count}")
    assert caught.value.problems == [
        f"{path}: unknown top-level key 'title'; declare counters as [[counter]] tables.",
        f"{path}: counter 2: channel must be a channel id such as 123456789012345678, got 'abc'.",
        f"{path}: counter 2: {robots.value}",
        f"{path}: counter 3 has unknown keys name; a counter has only channel and template.",
        f'{path}: counter 4 has no template: add template = "👥 {{members:,}}" (or another).',
        f"{path}: counter 5: {count.value}",
        f"{path}: counter 6: channel 15 already shows counter 5; use one channel per counter.",
    ]
    assert str(caught.value) == "invalid configuration:\n" + "\n".join(
        f"  - {problem}" for problem in caught.value.problems
    )
