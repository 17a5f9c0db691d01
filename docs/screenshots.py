"""Drives the real app to the states shown in the README, for screenshots under Xvfb.

    Xvfb :99 -screen 0 1400x900x24 &
    DISPLAY=:99 python docs/screenshots.py STATE   # chat | models
    DISPLAY=:99 import -window root docs/chat.png

Uses the bundled Gemma 3 270M (Q4_K_M) as the draft of an F16 twin derived from it.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QTimer

from app.library.bundled import ensure_bundled_model
from app.library.model_defaults import ModelDefaultsStore
from app.library.paths import models_dir
from app.ui.app import create_application
from app.ui.main_window import MainWindow
from tests.model_factory import gemma_f16_twin

PROMPT = "Write a Python function that checks whether a number is prime."


def main() -> int:
    state = sys.argv[1] if len(sys.argv) > 1 else "chat"
    bundled = ensure_bundled_model()
    twin_dir = models_dir() / "specula" / "gemma-3-270m-f16"
    twin_dir.mkdir(parents=True, exist_ok=True)
    twin = twin_dir / "gemma-3-270m-f16.gguf"
    if not twin.exists():
        shutil.copy(gemma_f16_twin(), twin)
    main_key, draft_key = (
        "specula/gemma-3-270m-f16/gemma-3-270m-f16.gguf",
        str(bundled.relative_to(models_dir()).as_posix()),
    )
    ModelDefaultsStore().update(
        main_key,
        {"draft_model": draft_key, "temperature": 0.0, "max_tokens": 160, "draft_p_min": 0.5, "draft_max": 8},
    )
    app = create_application()
    w = MainWindow(auto_load=False)
    w.resize(1400, 900)
    w.move(0, 0)
    w.show()

    def after_library() -> None:
        w.load_key(main_key)

    def after_drafts(_report: object) -> None:
        if state == "models":
            w.nav.setCurrentRow(1)
            w.models.select(main_key)
            QTimer.singleShot(1500, lambda: print("READY", flush=True))
            return
        w.chat.prompt.setPlainText(PROMPT)
        QTimer.singleShot(300, w.chat.send)

    w.libraryReady.connect(after_library)
    w.draftReportReady.connect(after_drafts)
    w.chat.replyFinished.connect(lambda: print("READY", flush=True))
    timeout = int(os.environ.get("SCREENSHOT_SECONDS", "600"))
    QTimer.singleShot(timeout * 1000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
