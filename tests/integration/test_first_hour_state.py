"""Nothing run beside the bot overwrites its state: `report --post` and a `run` refused for its token.

Each test writes a rename budget with two recent renames into DATA_DIR, as the running bot keeps it, runs one
offline command against the sandbox on that DATA_DIR, and compares every file under `state/` byte for byte.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from src.core.app import run_bot
from src.core.config import Settings
from src.core.offline import report
from src.core.session import discord_endpoints
from src.services.stats.budget import BUDGET_FILE
from src.services.stats.history import DailyHistory
from src.types.models import DailyStats
from src.utils.store import AtomicJsonStore
from tests.integration.conftest import FAST, sandbox_settings


def _write_budget(settings: Settings) -> None:
    """Write a budget with two renames of the member counter a moment ago, indented so any rewrite shows."""
    now = datetime.now(UTC)
    renames = [(now - timedelta(seconds=s)).isoformat() for s in (2, 1)]
    document = {
        "schema_version": 1,
        "limit": settings.channel_rename_limit,
        "window": settings.channel_rename_window,
        "channels": {str(settings.member_count_channel_id): {"renames": renames, "blocked_until": None}},
    }
    path = settings.data_dir / BUDGET_FILE
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def _state(data_dir: Path) -> dict[str, bytes]:
    """Every file under state/ by its relative name, with its bytes."""
    folder = data_dir / "state"
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


async def test_report_post_leaves_the_state_folder_untouched(sandbox, tmp_path):
    """`report weekly --post` posts its report and leaves every file under state/ byte for byte the same."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST)
    _write_budget(settings)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)  # FAST's TIMEZONE is UTC
    await DailyHistory(AtomicJsonStore(settings.data_dir)).save_day(DailyStats(date=yesterday))
    before = _state(settings.data_dir)

    with discord_endpoints(settings):
        assert await report(settings, "weekly", None, post=True) == 0

    assert len(sandbox.messages(sandbox.channel_ids["stats"])) == 1
    assert _state(settings.data_dir) == before


async def test_run_refused_for_its_token_leaves_the_state_folder_untouched(sandbox, tmp_path):
    """A `run` whose token the sandbox rejects exits 1 and leaves every file under state/ unchanged."""
    settings = sandbox_settings(sandbox, tmp_path / "data", **FAST, bot_token="not-the-sandbox-token")
    _write_budget(settings)
    before = _state(settings.data_dir)

    assert await run_bot(settings) == 1

    assert _state(settings.data_dir) == before
