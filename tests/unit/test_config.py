"""Configuration: original variable names, defaults, and errors that name the variable and the fix."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from src.core.config import load_settings, prepare_folders
from src.core.exceptions import ConfigError
from src.services.stats.counter_specs import environment_counters
from tests.conftest import BASE_SETTINGS, TEST_TOKEN

ROOT = Path(__file__).parents[2]


def _problems(**values: object) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(None, **{**BASE_SETTINGS, **values})
    return info.value.problems


def test_defaults_match_the_original_bot(make_settings):
    """Intervals and log level keep the original StatsBot's defaults."""
    settings = make_settings()
    assert settings.update_interval == 300
    assert settings.heartbeat_interval == 3600
    assert settings.presence_update_interval == 300
    assert settings.max_backoff == 3600
    assert settings.log_level == "INFO"
    assert settings.timezone == "America/New_York"
    assert settings.daily_report_time == time(0, 0)
    assert settings.channel_rename_limit == 2
    assert settings.channel_rename_window == 600


def test_missing_token_names_variable_and_where_to_get_it():
    """An absent BOT_TOKEN says it is not set and where the token comes from."""
    values = {k: v for k, v in BASE_SETTINGS.items() if k != "bot_token"}
    with pytest.raises(ConfigError) as info:
        load_settings(None, **values)
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith("BOT_TOKEN is not set")
    assert "Developer Portal" in info.value.problems[0]


def test_non_numeric_channel_id_shows_value_and_example():
    """A channel id that is not a number names the variable, echoes the value and shows a valid id."""
    (problem,) = _problems(member_count_channel_id="general")
    assert problem.startswith("MEMBER_COUNT_CHANNEL_ID='general' is invalid")
    assert "123456789012345678" in problem


def test_bad_timezone_suggests_iana_names():
    """An unknown zone is refused with examples of valid names."""
    (problem,) = _problems(timezone="Eastern Time")
    assert problem.startswith("TIMEZONE='Eastern Time' is invalid")
    assert "America/New_York" in problem


@pytest.mark.parametrize("value", ["25:00", "7pm", "12:60"])
def test_bad_report_time_is_refused(value):
    """DAILY_REPORT_TIME must be HH:MM or HH:MM:SS within a day."""
    (problem,) = _problems(daily_report_time=value)
    assert problem.startswith("DAILY_REPORT_TIME=")
    assert "HH:MM" in problem


@pytest.mark.parametrize(("value", "expected"), [("07:30", time(7, 30)), ("23:59:59", time(23, 59, 59))])
def test_report_time_accepts_both_forms(make_settings, value, expected):
    """Both HH:MM and HH:MM:SS parse."""
    assert make_settings(daily_report_time=value).daily_report_time == expected


@pytest.mark.parametrize(("value", "index"), [("sunday", 6), ("Mon", 0), ("FRIDAY", 4)])
def test_weekday_names(make_settings, value, index):
    """Weekday names and abbreviations in any case are accepted."""
    assert make_settings(weekly_report_day=value).weekly_report_day == index


def test_every_problem_is_listed_at_once():
    """Several bad values produce one error listing each of them."""
    problems = _problems(timezone="Nowhere/Land", update_interval="soon", log_level="LOUD")
    assert [p.split("=")[0] for p in problems] == ["UPDATE_INTERVAL", "LOG_LEVEL", "TIMEZONE"]


def test_small_intervals_are_allowed_for_tests_and_the_sandbox(make_settings):
    """Fractions of a second are valid intervals."""
    settings = make_settings(update_interval="0.2", heartbeat_interval="0.5", channel_rename_window="1.5")
    assert settings.update_interval == 0.2
    assert settings.channel_rename_window == 1.5


def test_zero_interval_is_refused():
    """An interval must be greater than zero."""
    (problem,) = _problems(heartbeat_interval=0)
    assert problem.startswith("HEARTBEAT_INTERVAL=0 is invalid")


def test_token_is_masked_in_repr_and_description(make_settings):
    """The token appears neither in repr() nor in the printed configuration."""
    settings = make_settings()
    assert TEST_TOKEN not in repr(settings)
    assert TEST_TOKEN not in str(settings.describe())
    assert settings.describe()["BOT_TOKEN"] == "********"


def test_invalid_token_error_does_not_echo_it():
    """A malformed token is reported without printing the token."""
    (problem,) = _problems(bot_token="secret value with spaces")
    assert problem.startswith("BOT_TOKEN is invalid")
    assert "secret value" not in problem


def test_bot_prefix_is_stripped(make_settings):
    """A token pasted as 'Bot <token>' still works."""
    assert make_settings(bot_token=f"Bot {TEST_TOKEN}").bot_token.get_secret_value() == TEST_TOKEN


def test_template_too_long_is_refused():
    """A counter name over 100 characters is refused at config time."""
    (problem,) = _problems(member_count_template="x" * 95 + " {count:,}")
    assert problem.startswith("MEMBER_COUNT_TEMPLATE=")
    assert "at most 100" in problem


def test_template_with_unknown_placeholder_is_refused():
    """Only {count} may be used in a template."""
    (problem,) = _problems(ban_count_template="Bans: {total}")
    assert "placeholder" in problem


def test_urls_need_the_right_scheme():
    """Base and gateway URLs must be http(s) and ws(s)."""
    (problem,) = _problems(discord_api_base_url="ftp://x", discord_gateway_url="http://y")
    assert "DISCORD_API_BASE_URL" in problem
    assert "DISCORD_GATEWAY_URL" in problem


def test_reads_original_config_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An existing install's config/.env is read with the original variable names."""
    (tmp_path / "config").mkdir()
    lines = [f"{k.upper()}={v}" for k, v in BASE_SETTINGS.items()] + ["UPDATE_INTERVAL=120"]
    (tmp_path / "config" / ".env").write_text("\n".join(lines) + "\n")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.update_interval == 120
    assert settings.member_count_channel_id == BASE_SETTINGS["member_count_channel_id"]


def test_local_env_overrides_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A .env in the working folder wins over config/.env."""
    (tmp_path / "config").mkdir()
    lines = [f"{k.upper()}={v}" for k, v in BASE_SETTINGS.items()]
    (tmp_path / "config" / ".env").write_text("\n".join([*lines, "LOG_LEVEL=DEBUG"]) + "\n")
    (tmp_path / ".env").write_text("LOG_LEVEL=WARNING\n")
    monkeypatch.chdir(tmp_path)
    assert load_settings().log_level == "WARNING"


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch):
    """Plain environment variables work without any file."""
    for key, value in BASE_SETTINGS.items():
        monkeypatch.setenv(key.upper(), str(value))
    monkeypatch.setenv("TIMEZONE", "Europe/Berlin")
    assert load_settings(None).zone.key == "Europe/Berlin"


def test_weekday_number_out_of_range_is_refused():
    """WEEKLY_REPORT_DAY=9 is refused instead of silently meaning some other day."""
    (problem,) = _problems(weekly_report_day="9")
    assert problem.startswith("WEEKLY_REPORT_DAY='9' is invalid")


def test_infinite_seconds_are_refused():
    """'inf' passes 'greater than 0' but is no interval."""
    (problem,) = _problems(channel_rename_window="inf")
    assert problem.startswith("CHANNEL_RENAME_WINDOW='inf' is invalid")


def test_log_dir_that_is_a_file_is_refused(tmp_path: Path):
    """LOG_DIR must be a folder, not an existing file."""
    existing = tmp_path / "statsbot.log"
    existing.write_text("old log")
    (problem,) = _problems(log_dir=str(existing))
    assert problem.startswith("LOG_DIR=")
    assert "is a file, not a folder" in problem


def _missing_problem(name: str) -> str:
    """The problem line for `name` when it is absent altogether."""
    values = {k: v for k, v in BASE_SETTINGS.items() if k != name}
    with pytest.raises(ConfigError) as info:
        load_settings(None, **values)
    (problem,) = info.value.problems
    return problem


def _write_env(folder: Path, **values: object) -> None:
    lines = [f"{k.upper()}={v}" for k, v in {**BASE_SETTINGS, **values}.items()]
    (folder / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_empty_required_value_in_env_file_reads_not_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`HEARTBEAT_CHANNEL_ID=` from .env.example reads "is not set" with the fix of a missing one."""
    expected = _missing_problem("heartbeat_channel_id")
    _write_env(tmp_path, heartbeat_channel_id="")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.problems == [expected]
    assert info.value.problems[0].startswith(
        "HEARTBEAT_CHANNEL_ID is not set. Set it to a Discord channel id"
    )


def test_an_empty_counter_channel_means_no_counter_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`ONLINE_COUNT_CHANNEL_ID=` is allowed (/setup makes counters); the other two still come from .env."""
    _write_env(tmp_path, online_count_channel_id="")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.online_count_channel_id is None
    assert [spec.setting for spec in environment_counters(settings)] == [
        "MEMBER_COUNT_CHANNEL_ID",
        "BAN_COUNT_CHANNEL_ID",
    ]


def test_whitespace_required_value_in_environment_reads_not_set(monkeypatch: pytest.MonkeyPatch):
    """A required variable set to blanks in the environment reads "is not set", like a missing one."""
    expected = _missing_problem("stats_channel_id")
    for key, value in BASE_SETTINGS.items():
        monkeypatch.setenv(key.upper(), str(value))
    monkeypatch.setenv("STATS_CHANNEL_ID", "   ")
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert info.value.problems == [expected]


def test_empty_token_reads_not_set(monkeypatch: pytest.MonkeyPatch):
    """`BOT_TOKEN=` reads "BOT_TOKEN is not set", pointing at the Developer Portal."""
    expected = _missing_problem("bot_token")
    for key, value in BASE_SETTINGS.items():
        monkeypatch.setenv(key.upper(), str(value))
    monkeypatch.setenv("BOT_TOKEN", "")
    with pytest.raises(ConfigError) as info:
        load_settings(None)
    assert info.value.problems == [expected]


def test_empty_optional_values_in_env_file_fall_back_to_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Optional variables left empty in .env take their defaults instead of failing to parse."""
    _write_env(tmp_path, update_interval="", daily_report_time="", log_level="", guild_id="", data_dir="")
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.update_interval == 300
    assert settings.daily_report_time == time(0, 0)
    assert settings.log_level == "INFO"
    assert settings.guild_id is None
    assert settings.data_dir == Path("data")


def test_blank_optional_value_in_environment_falls_back_to_default(monkeypatch: pytest.MonkeyPatch):
    """An optional variable set to blanks in the environment takes its default."""
    for key, value in BASE_SETTINGS.items():
        monkeypatch.setenv(key.upper(), str(value))
    monkeypatch.setenv("HEARTBEAT_INTERVAL", " ")
    monkeypatch.setenv("WEEKLY_REPORT_DAY", "")
    settings = load_settings(None)
    assert settings.heartbeat_interval == 3600
    assert settings.weekly_report_day == 6


def test_empty_line_in_env_keeps_the_value_from_config_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An empty line copied into .env does not hide the value the original config/.env sets."""
    (tmp_path / "config").mkdir()
    _write_env(tmp_path / "config")
    (tmp_path / ".env").write_text("MEMBER_COUNT_CHANNEL_ID=\nONLINE_COUNT_CHANNEL_ID=\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert load_settings().member_count_channel_id == BASE_SETTINGS["member_count_channel_id"]


def test_data_dir_inside_a_file_is_refused(tmp_path: Path):
    """A DATA_DIR below a regular file can never be created: refused naming DATA_DIR and the file."""
    existing = tmp_path / "notes.txt"
    existing.write_text("not a folder")
    (problem,) = _problems(data_dir=str(existing / "data"))
    assert problem.startswith(f"DATA_DIR={str(existing / 'data')!r} is invalid")
    assert f"is inside {str(existing)!r}, which is a file" in problem
    assert "Expected a folder path, e.g. ./data" in problem


def test_settings_create_no_folder(tmp_path: Path):
    """Loading settings (as `python -m src config` does) leaves DATA_DIR and LOG_DIR uncreated."""
    load_settings(None, **BASE_SETTINGS, data_dir=tmp_path / "data", log_dir=tmp_path / "logs")
    assert list(tmp_path.iterdir()) == []


def test_prepare_folders_creates_data_dir_and_log_dir(make_settings, tmp_path: Path):
    """A command that writes gets DATA_DIR and LOG_DIR created, parents included."""
    settings = make_settings(data_dir=tmp_path / "a" / "data", log_dir=tmp_path / "b" / "logs")
    prepare_folders(settings, data_dir=True)
    assert (tmp_path / "a" / "data").is_dir()
    assert (tmp_path / "b" / "logs").is_dir()


def test_prepare_folders_leaves_data_dir_alone_when_not_asked(make_settings, tmp_path: Path):
    """A command that only reads data (a report) does not create DATA_DIR."""
    prepare_folders(make_settings(data_dir=tmp_path / "data"), data_dir=False)
    assert not (tmp_path / "data").exists()


def test_data_dir_that_cannot_be_created_is_a_config_error(make_settings):
    """DATA_DIR=/proc/statsbot-data (which even root cannot create) names DATA_DIR, the reason and the fix."""
    with pytest.raises(ConfigError) as info:
        prepare_folders(make_settings(data_dir="/proc/statsbot-data"), data_dir=True)
    (problem,) = info.value.problems
    assert problem.startswith("DATA_DIR='/proc/statsbot-data' cannot be used: cannot create the folder")
    assert problem.endswith(
        "Set DATA_DIR to a folder this user can create and write in (a folder path, e.g. ./data)."
    )


def test_log_dir_that_cannot_be_created_is_a_config_error(make_settings):
    """LOG_DIR under /proc is refused the same way, naming LOG_DIR."""
    with pytest.raises(ConfigError) as info:
        prepare_folders(make_settings(log_dir="/proc/statsbot-logs"), data_dir=False)
    (problem,) = info.value.problems
    assert problem.startswith("LOG_DIR='/proc/statsbot-logs' cannot be used")


def test_an_unedited_copy_of_env_example_lists_each_required_variable_as_not_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """`cp .env.example .env` and nothing more: every required variable reads "is not set", nothing else."""
    (tmp_path / ".env").write_bytes((ROOT / ".env.example").read_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert [p.split(" is not set. Set it to ")[0] for p in info.value.problems] == [
        "BOT_TOKEN",
        "HEARTBEAT_CHANNEL_ID",
        "STATS_CHANNEL_ID",
    ]
