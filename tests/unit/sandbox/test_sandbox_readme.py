"""The README's control-port table and the routes `control.py` registers cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

from src.sandbox import Sandbox, SandboxConfig
from src.sandbox.control import build_control_app

README = Path(__file__).resolve().parents[3] / "README.md"
ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE)` \| `(/[^`]*)` \|", re.M)


def documented_routes() -> set[tuple[str, str]]:
    """(method, path) of every row in the control-port table of the README's "The sandbox" section."""
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## The sandbox\n")
    end = text.find("\n## ", start + 1)
    return set(ROW.findall(text[start : end if end != -1 else len(text)]))


def registered_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the control application serves (aiohttp's automatic HEAD left out)."""
    app = build_control_app(Sandbox(SandboxConfig(members=0)))
    routes = app.router.routes()
    return {(r.method, r.resource.canonical) for r in routes if r.method != "HEAD" and r.resource}


def test_every_control_route_is_in_the_readme() -> None:
    """Each route control.py registers has its row in the README's control-port table."""
    assert sorted(registered_routes() - documented_routes()) == []


def test_the_readme_documents_no_missing_route() -> None:
    """Each row of the README's control-port table is a route control.py registers."""
    assert sorted(documented_routes() - registered_routes()) == []
