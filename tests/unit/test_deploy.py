"""The deployment files: the systemd unit verifies, and the container image runs StatsBot as it should."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
UNIT = ROOT / "deploy" / "statsbot.service"
DOCKERFILE = ROOT / "Dockerfile"


def _unit_settings() -> dict[str, list[str]]:
    """Every `Key=value` of the unit, values in order of appearance."""
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_stops_gracefully_and_restarts_on_failure():
    """SIGTERM with a 15 s stop timeout, restart on failure but not on a configuration error (exit 2)."""
    unit = _unit_settings()
    assert unit["KillSignal"] == ["SIGTERM"]
    assert unit["TimeoutStopSec"] == ["15"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == ["2"]


def test_the_unit_can_write_only_the_data_directory():
    """The whole file system is read-only except DATA_DIR, and the bot cannot gain privileges."""
    unit = _unit_settings()
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ReadWritePaths"] == unit["Environment"][0].split("=", 1)[1:]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path):
    """`systemd-analyze verify` accepts the unit (paths pointed at this checkout, which exists here)."""
    text = UNIT.read_text(encoding="utf-8")
    text = text.replace("/opt/statsbot/.venv/bin/python", sys.executable).replace("/opt/statsbot", str(ROOT))
    copy = tmp_path / "statsbot.service"
    copy.write_text(text, encoding="utf-8")
    tool = shutil.which("systemd-analyze") or "systemd-analyze"
    result = subprocess.run(  # noqa: S603 - a fixed tool on a file this test wrote
        [tool, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (result.returncode, result.stderr.strip()) == (0, "")


def test_the_image_runs_as_a_non_root_user_with_data_as_a_volume():
    """The container drops root, keeps DATA_DIR on a volume, and SIGTERM reaches Python (exec form)."""
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    assert "USER statsbot" in lines
    assert 'VOLUME ["/data"]' in lines
    assert 'ENTRYPOINT ["python", "-m", "src"]' in lines
    assert any("DATA_DIR=/data" in line for line in lines)
