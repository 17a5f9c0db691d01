"""Qt stays in app/ui: importing every other room must not load PySide6."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

APP = Path(__file__).resolve().parents[1] / "app"
QT_FREE = ("core", "engines", "library", "chat", "server")


def test_no_room_but_ui_imports_qt():
    modules = sorted(
        ".".join(p.relative_to(APP.parent).with_suffix("").parts)
        for room in QT_FREE
        if (APP / room).is_dir()
        for p in (APP / room).rglob("*.py")
    )
    assert modules
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'qasync'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=APP.parent)
