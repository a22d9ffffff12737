"""The layers point one way (docs/architecture.md): each rule is checked on the imports of every module."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest

SRC = Path(__file__).parents[2] / "src"
BOTTOM = {"src.core.config", "src.core.exceptions"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, absolute names, including imports inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {_module_name(path): _imports(path) for path in sorted(SRC.rglob("*.py"))}


def _ours(imports: set[str]) -> set[str]:
    """The project modules among `imports` (a `from src.x import y` counts as importing src.x)."""
    return {name for name in imports if name == "src" or name.startswith("src.")}


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _violations(package: str, allowed: Callable[[str, str], bool]) -> list[str]:
    """Each import by a module of `package` that `allowed(module, target)` refuses."""
    return sorted(
        f"{module} imports {target}"
        for module, imports in MODULES.items()
        if _in(module, package)
        for target in _ours(imports)
        if not allowed(module, target)
    )


def test_config_and_exceptions_import_nothing_else_of_ours():
    """core/config.py and core/exceptions.py are the bottom layer: they import only each other."""
    offenders = {
        module: sorted(target for target in _ours(MODULES[module]) if not any(_in(target, b) for b in BOTTOM))
        for module in BOTTOM
    }
    assert offenders == {module: [] for module in BOTTOM}


@pytest.mark.parametrize("package", ["src.utils", "src.types", "src.services", "src.sandbox"])
def test_nothing_below_the_top_imports_the_rest_of_core(package):
    """Only config and exceptions of src.core may be imported below it (the top imports the bottom)."""
    wrong = _violations(
        package,
        lambda _module, target: not _in(target, "src.core") or any(_in(target, b) for b in BOTTOM),
    )
    assert wrong == []


def test_utils_know_nothing_of_discord():
    """src/utils imports neither discord.py nor aiohttp: classifying their errors is the adapter's job."""
    wrong = sorted(
        f"{module} imports {name}"
        for module, imports in MODULES.items()
        if _in(module, "src.utils")
        for name in imports
        if name.split(".")[0] in {"discord", "aiohttp"}
    )
    assert wrong == []


def test_types_import_only_types():
    """src/types holds models and Protocols; it depends on no other layer."""
    assert _violations("src.types", lambda _module, target: _in(target, "src.types")) == []


def test_no_service_imports_another_service():
    """stats, monitoring and presence see each other only through Protocols in src/types."""

    def allowed(module: str, target: str) -> bool:
        own = ".".join(module.split(".")[:3])
        return not _in(target, "src.services") or _in(target, own)

    assert _violations("src.services", allowed) == []


def test_protocols_are_declared_in_types_ports():
    """Service-facing Protocols are declared once, in src/types; the only others are local to one module."""
    declared = sorted(
        f"{_module_name(path)}.{node.name}"
        for path in SRC.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
        and any(isinstance(base, ast.Name) and base.id == "Protocol" for base in node.bases)
        and not _module_name(path).startswith("src.types.")
    )
    assert declared == ["src.core.bot.BotEvents", "src.sandbox.restcore.EventSink"]


def test_the_rules_see_real_imports():
    """The checker is not vacuous: it finds the imports the composition root is known to make."""
    assert "src.services.stats.counters" in _ours(MODULES["src.core.app"])
    assert "src.utils.loop" in _ours(MODULES["src.services.stats.events"])
