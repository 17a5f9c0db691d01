"""The import contract: core below library below engines below runtime below chat/server/ui,
the command line (app/cli) on top, and Qt only in app/ui. Every import statement in app/ (lazy
ones inside functions too) is read from the source, so a violation fails here before it can
tangle the rooms."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
QT_FREE = ("core", "library", "engines", "runtime", "chat", "server", "cli")
QT_MODULES = ("PySide6", "shiboken6", "qasync")

# room -> the rooms it may import (itself included). The command line is the top room: it
# may import every room, app.ui only lazily (inside a function: to start the window), and
# nothing imports it but `python -m app` (__main__). The other top-level modules (the package's
# __init__, logs) belong to no room.
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "library": {"core", "library"},
    "engines": {"core", "library", "engines"},
    "runtime": {"core", "library", "engines", "runtime"},
    "chat": {"core", "library", "engines", "runtime", "chat"},
    "server": {"core", "library", "engines", "runtime", "chat", "server"},
    "ui": {"core", "library", "engines", "runtime", "chat", "server", "ui"},
    "cli": {"core", "library", "engines", "runtime", "chat", "server", "cli", "ui"},
}
LAZY_ONLY = {"cli": {"ui"}}  # room -> rooms it may import only inside a function


def _imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, lazy: inside a function) for every import statement."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, lazy))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def _room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "app" and parts[1] in ALLOWED else None


def violations() -> list[str]:
    bad: list[str] = []
    for path in sorted(APP.rglob("*.py")):
        rel = path.relative_to(APP)
        room = rel.parts[0] if len(rel.parts) > 1 else None
        for line, module, lazy in _imports(path):
            where = f"app/{rel.as_posix()}:{line}"
            if module.split(".")[0] in QT_MODULES and room != "ui":
                bad.append(f"{where} imports {module} (Qt belongs in app/ui)")
            target = _room_of(module)
            if target is None:
                continue
            if room in ALLOWED and target not in ALLOWED[room]:
                bad.append(f"{where}: {room} imports {module} ({target} is above {room})")
            elif room in ALLOWED and target in LAZY_ONLY.get(room, set()) and not lazy:
                bad.append(f"{where}: {room} imports {module} when loaded (only inside a function)")
            elif room is None and target == "cli" and rel.as_posix() != "__main__.py":
                bad.append(f"{where} imports {module} (nothing but __main__ imports the command line)")
    return bad


def test_every_room_imports_only_the_rooms_below_it():
    assert not violations(), "\n".join(violations())


def test_the_contract_catches_an_upward_import(tmp_path, monkeypatch):
    files = {
        "library/bad.py": "def f():\n    from app.engines.mlx import MLXModel\n",
        "core/qt.py": "import PySide6.QtCore\n",
        "doctor.py": "def f():\n    from PySide6.QtGui import QGuiApplication\n",  # bug 6, before
        "ui/menu.py": "from app.cli.entry import main\n",
        "cli/eager.py": "from app.ui.app import run_app\n",
        "cli/lazy.py": "def f():\n    from app.ui.app import run_app\n",  # allowed
        "logs.py": "import app.cli\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.setattr(sys.modules[__name__], "APP", tmp_path)
    found = violations()
    assert len(found) == 6, found
    assert any("library/bad.py:2" in v and "engines is above library" in v for v in found)
    assert any("core/qt.py:1" in v and "Qt belongs in app/ui" in v for v in found)
    assert any("app/doctor.py:2" in v and "Qt belongs in app/ui" in v for v in found)
    assert any("ui/menu.py:1" in v and "cli is above ui" in v for v in found)
    assert any("cli/eager.py:1" in v and "only inside a function" in v for v in found)
    assert any("app/logs.py:1" in v and "nothing but __main__" in v for v in found)


def test_no_room_but_ui_loads_qt_when_imported():
    """The same rule at run time: importing every other room (the command line too) and the
    top-level modules must not load PySide6."""
    modules = sorted(
        ".".join(p.relative_to(APP.parent).with_suffix("").parts)
        for room in QT_FREE
        if (APP / room).is_dir()
        for p in (APP / room).rglob("*.py")
    ) + sorted(f"app.{p.stem}" for p in APP.glob("*.py") if p.stem not in ("__init__", "__main__"))
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
