"""The import contract: core below library below engines below runtime below chat/server/ui,
and Qt only in app/ui. Every import statement in app/ (lazy ones inside functions too) is
read from the source, so a violation fails here before it can tangle the rooms."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
QT_FREE = ("core", "library", "engines", "runtime", "chat", "server")
QT_MODULES = ("PySide6", "shiboken6", "qasync")

# room -> the rooms it may import (itself included). The top-level modules (cli, doctor,
# logs, __main__) are entry points and may import any room.
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "library": {"core", "library"},
    "engines": {"core", "library", "engines"},
    "runtime": {"core", "library", "engines", "runtime"},
    "chat": {"core", "library", "engines", "runtime", "chat"},
    "server": {"core", "library", "engines", "runtime", "chat", "server"},
    "ui": {"core", "library", "engines", "runtime", "chat", "server", "ui"},
}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "app" and parts[1] in ALLOWED else None


def violations() -> list[str]:
    bad: list[str] = []
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(APP)
        room = rel.parts[0] if len(rel.parts) > 1 else None
        for line, module in _imports(path):
            where = f"app/{rel.as_posix()}:{line}"
            if module.split(".")[0] in QT_MODULES and room != "ui" and room is not None:
                bad.append(f"{where} imports {module} (Qt belongs in app/ui)")
            target = _room_of(module)
            if room in ALLOWED and target is not None and target not in ALLOWED[room]:
                bad.append(f"{where}: {room} imports {module} ({target} is above {room})")
    return bad


def test_every_room_imports_only_the_rooms_below_it():
    assert not violations(), "\n".join(violations())


def test_the_contract_catches_an_upward_import(tmp_path, monkeypatch):
    (tmp_path / "library").mkdir()
    (tmp_path / "library" / "bad.py").write_text("def f():\n    from app.engines.mlx import MLXModel\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "qt.py").write_text("import PySide6.QtCore\n")
    monkeypatch.setattr(sys.modules[__name__], "APP", tmp_path)
    found = violations()
    assert len(found) == 2
    assert any("library/bad.py:2" in v and "engines is above library" in v for v in found)
    assert any("core/qt.py:1" in v and "Qt belongs in app/ui" in v for v in found)


def test_no_room_but_ui_loads_qt_when_imported():
    """The same rule at run time: importing every other room must not load PySide6."""
    modules = sorted(
        ".".join(p.relative_to(APP.parent).with_suffix("").parts)
        for room in QT_FREE
        if (APP / room).is_dir()
        for p in (APP / room).rglob("*.py")
    )
    assert modules
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except ImportError as exc:  # an optional engine (MLX) that is not installed here\n"
        "        if not (exc.name or '').startswith(('mlx', 'mlx_lm')):\n"
        "            raise\n"
        f"bad = [m for m in sys.modules if m.startswith({QT_MODULES!r})]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=APP.parent)
