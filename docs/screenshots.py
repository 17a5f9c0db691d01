"""Takes the README's screenshots from the real app, driven under Xvfb.

    Xvfb :99 -screen 0 1400x900x24 &
    DISPLAY=:99 python docs/screenshots.py [--out docs] [--size 1400x900] [--advisor]
    DISPLAY=:99 python docs/screenshots.py --size 1000x700 --suffix=-1000x700

Writes chat-light.png, chat-dark.png, speculation-details.png, my-models.png and
first-run.png (the welcome over the window), each name with --suffix (the README shows the
1000x700 chat in both themes and My Models); with --advisor also
advisor.png: Find the best draft's result, each draft's speed-up over no draft measured
just before and after it, with its noise band. The chat
runs the real Gemma 3 270M pair: an F16 twin derived from the bundled Q4_K_M as the main
model, the Q4_K_M itself as the draft, at temperature 0. Every user folder points at a fresh
temporary directory, so nothing of yours is read or changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = "What is the capital of France? Answer in one sentence, then list three famous places there."
MAIN_KEY = "specula/gemma-3-270m-f16/gemma-3-270m-f16.gguf"
SETTINGS = {
    "temperature": 0.0,
    "max_tokens": 220,
    "draft_auto": False,  # a fixed draft length, so every round drafts (Auto may pause on 2 cores)
    "draft_max": 8,
    "draft_p_min": 0.0,  # draft the whole length: some of it gets refused, shown struck through
}


def isolate_user_folders() -> Path:
    root = Path(tempfile.mkdtemp(prefix="specula-shots-"))
    home = root / "home"
    for var, sub in (
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ):
        os.environ[var] = str(home / sub)
    os.environ["HOME"] = str(home)
    os.environ["HF_HOME"] = str(home / ".cache" / "huggingface")
    home.mkdir()
    return root


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--size", default="1400x900")
    ap.add_argument("--timeout", type=int, default=900, help="give up after this many seconds")
    ap.add_argument("--streaming", action="store_true", help="also chat-streaming.png, mid-reply")
    ap.add_argument("--suffix", default="", help="added to every file name (chat-light-1000x700.png)")
    ap.add_argument("--advisor", action="store_true", help="also advisor.png: Find the best draft")
    args = ap.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    home = isolate_user_folders()

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QWidget

    from app.library.bundled import ensure_bundled_model
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.paths import models_dir
    from app.library.preferences import Preferences
    from app.ui.app import create_application
    from app.ui.dialogs import WelcomeDialog
    from app.ui.main_window import MainWindow
    from tests.model_factory import gemma_f16_twin

    bundled = ensure_bundled_model()
    twin = models_dir() / MAIN_KEY
    twin.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(gemma_f16_twin(), twin)
    draft_key = bundled.relative_to(models_dir()).as_posix()
    ModelDefaultsStore().update(MAIN_KEY, {"draft_model": draft_key, **SETTINGS})
    Preferences().set("theme", "light")

    app = create_application()
    w = MainWindow(auto_load=False)
    w.resize(width, height)
    w.move(0, 0)
    w.show()
    args.out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []

    def shoot(name: str, window: QWidget | None = None) -> None:
        app.processEvents()
        screen = QGuiApplication.primaryScreen()
        g = (window or w).frameGeometry()
        pixmap = screen.grabWindow(0, g.x(), g.y(), g.width(), g.height())
        stem, ext = name.rsplit(".", 1)
        path = args.out / f"{stem}{args.suffix}.{ext}"
        if not pixmap.save(str(path)):
            failures.append(name)
        print("wrote", path, flush=True)

    def later(ms: int, step: Callable[[], None]) -> None:
        QTimer.singleShot(ms, step)

    def on_library() -> None:
        w.libraryReady.disconnect(on_library)
        welcome = WelcomeDialog([r.path for r in w.library.roots()], w, draft_colour=w.themes.theme.draft)
        welcome.set_ready()
        welcome.show()
        later(800, lambda: (shoot("first-run.png"), welcome.close(), w.load_key(MAIN_KEY)))

    def on_draft(key: str) -> None:
        if key:  # the pair is loaded: ask
            w.draftReady.disconnect(on_draft)
            w.chat.prompt.setPlainText(PROMPT)
            later(500, w.chat.send_button.click)  # as a person would
            if args.streaming:
                later(8000, lambda: shoot("chat-streaming.png") if w.chat.busy else None)

    def on_reply() -> None:
        later(800, chat_light)

    def chat_light() -> None:
        w.chat.view.verticalScrollBar().setValue(0)  # the question and the start of the reply
        later(300, lambda: (shoot("chat-light.png"), open_details()))

    def open_details() -> None:
        w.chat.sidebar.rejected_box.setChecked(True)
        card = w.chat.view.cards[-1]
        card.details_button.setChecked(True)
        later(800, details)

    def details() -> None:
        view = w.chat.view
        card = view.cards[-1]
        bar = view.verticalScrollBar()
        bar.setValue(card.y() + card.height() - view.viewport().height() + 24)
        later(500, lambda: (shoot("speculation-details.png"), dark()))

    def dark() -> None:
        w.chat.sidebar.rejected_box.setChecked(False)
        w.chat.view.cards[-1].details_button.setChecked(False)
        w.themes.set_choice("dark")
        later(800, lambda: (w.chat.view.verticalScrollBar().setValue(0), later(400, dark_shot)))

    def dark_shot() -> None:
        shoot("chat-dark.png")
        w.themes.set_choice("light")
        w.nav.setCurrentRow(1)
        w.models.select(MAIN_KEY)
        later(1500, models_shot)

    def models_shot() -> None:
        shoot("my-models.png")
        if args.advisor:
            advisor()
        else:
            finish()

    def advisor() -> None:
        dialog = w.open_advisor(MAIN_KEY)
        assert dialog is not None
        dialog.move(40, 40)
        dialog.task.finished.connect(lambda: later(800, lambda: (shoot("advisor.png", dialog), finish())))

    def finish() -> None:
        w.close()
        app.quit()

    def on_error(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        traceback.print_exception(kind, value, tb)  # a step that broke ends the run, not a hang
        failures.append(f"{kind.__name__}: {value}")
        app.quit()

    sys.excepthook = on_error
    w.libraryReady.connect(on_library)
    w.draftReady.connect(on_draft)
    w.chat.replyFinished.connect(on_reply)
    QTimer.singleShot(args.timeout * 1000, lambda: (failures.append("timeout"), app.quit()))
    app.exec()
    shutil.rmtree(home, ignore_errors=True)
    if failures:
        print("failed:", ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
