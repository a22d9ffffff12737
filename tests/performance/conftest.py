"""Benchmarks run only when asked for by path (`pytest tests/performance`), never with the other tests."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    """Register the `bench` marker."""
    config.addinivalue_line("markers", "bench: benchmark smoke test; run with `pytest tests/performance`")


def _asked_for(config: pytest.Config) -> bool:
    """Whether a command-line path points at this folder or something inside it."""
    for arg in config.args:
        target = Path(arg.split("::", 1)[0]).resolve()
        if target == HERE or HERE in target.parents:
            return True
    return False


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Skip collecting the benchmarks when the run was not pointed at them (e.g. `pytest tests`)."""
    if collection_path.name.startswith("test_") and not _asked_for(config):
        return True
    return None
