"""The README stays true: every setting is documented with its default, and both commands are there."""

from __future__ import annotations

from pathlib import Path

from src.core.config import Settings

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_configuration_table():
    """Each environment variable StatsBot reads has a row in the README's table."""
    missing = [name.upper() for name in Settings.model_fields if f"| `{name.upper()}` |" not in README]
    assert missing == []


def test_readme_names_the_two_commands():
    """`make demo` and `make test` are documented."""
    assert "make demo" in README
    assert "make test" in README
