"""Takes the README's context meter screenshots from the real app (light and dark).

    QT_QPA_PLATFORM=offscreen python docs/meter_screenshots.py [--out docs]

Writes context-meter-light.png and context-meter-dark.png: the end of a stored conversation and
the message box, with the bundled Gemma 3 270M loaded at a 1024-token context and a message
being typed, so the meter is past 80%. Every user folder points at a fresh temporary
directory, so nothing of yours is read or changed.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

from screenshots import isolate_user_folders  # noqa: E402 (after the path it comes from)

N_CTX = 1024
EXCHANGES = [
    ("What is the tallest mountain in Europe?", "Mount Elbrus, in the Caucasus, at 5,642 metres."),
    ("And in the Alps?", "Mont Blanc, at about 4,806 metres, on the border of France and Italy."),
    (
        "Which is older, the Alps or the Pyrenees?",
        "They rose in the same long collision, but the Pyrenees began a little earlier.",
    ),
    (
        "How long does it take to climb Mont Blanc?",
        "Usually two days: a climb to a hut, then the summit early the next morning.",
    ),
    (
        "Do I need a guide?",
        "For most people, yes: glaciers, crevasses and the weather make a guide the safe choice.",
    ),
    (
        "What should I pack?",
        "Boots for crampons, layers, a helmet, a harness, sun protection, food and water.",
    ),
    (
        "What is the best month?",
        "July to early September, when the huts are open and the weather is most stable.",
    ),
    (
        "How do I train for it?",
        "Months of hiking with a loaded pack, some climbing, and a few days at altitude first.",
    ),
] * 3
TYPING = "Which hut would you recommend for the first night, and how early should I book it?"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--timeout", type=int, default=300, help="give up after this many seconds")
    args = ap.parse_args()
    home = isolate_user_folders()

    from PySide6.QtCore import QRect, QTimer

    from app.chat.store import ChatStore, StoredMessage
    from app.library.bundled import ensure_bundled_model
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.paths import models_dir
    from app.library.preferences import Preferences
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow

    bundled = ensure_bundled_model()
    key = bundled.relative_to(models_dir()).as_posix()
    ModelDefaultsStore().update(key, {"context_length": N_CTX, "draft_model": ""})
    Preferences().set("theme", "light")
    store = ChatStore()
    cid = store.create_conversation("Climbing Mont Blanc", model_key=key)
    for question, answer in EXCHANGES:
        store.add_message(cid, StoredMessage("user", question))
        store.add_message(cid, StoredMessage("assistant", answer))
    store.close()

    app = create_application()
    w = MainWindow(auto_load=False)
    w.resize(1100, 700)
    w.show()
    args.out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []

    def shoot(name: str) -> None:
        app.processEvents()
        centre = w.chat.view.parentWidget()
        height = 230
        pixmap = centre.grab(QRect(0, centre.height() - height, centre.width(), height))
        path = args.out / name
        if not pixmap.save(str(path)):
            failures.append(name)
        print("wrote", path, flush=True)

    def on_library() -> None:
        w.libraryReady.disconnect(on_library)
        w.load_key(key)

    def on_model(_key: str) -> None:
        w.chat.prompt.setPlainText(TYPING)
        wait_for_meter()

    def wait_for_meter() -> None:
        reading = w.chat.meter.reading
        if reading is None or reading.serial != w.chat.meter.serial or not reading.filling:
            QTimer.singleShot(200, wait_for_meter)
            return
        QTimer.singleShot(300, light)

    def light() -> None:
        shoot("context-meter-light.png")
        w.themes.set_choice("dark")
        QTimer.singleShot(600, dark)

    def dark() -> None:
        shoot("context-meter-dark.png")
        w.themes.set_choice("light")
        w.close()
        app.quit()

    w.libraryReady.connect(on_library)
    w.modelReady.connect(on_model)
    QTimer.singleShot(args.timeout * 1000, lambda: (failures.append("timeout"), app.quit()))
    app.exec()
    shutil.rmtree(home, ignore_errors=True)
    if failures:
        print("failed:", ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
