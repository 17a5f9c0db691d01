"""Takes the README's screenshot of a model on another machine, from the real app under Xvfb.

    Xvfb :99 -screen 0 1800x900x24 &
    DISPLAY=:99 python docs/remote_screenshot.py [--out docs] [--size 1700x900]

Writes remote-chat.png: a second Specula (`python -m app serve`, its own home, the real Gemma
3 270M pair in its library: an F16 twin derived from the bundled Q4_K_M as the main model, the
Q4_K_M as its draft) is added as the server "workstation"; the window lists its models,
loads its main model with its draft, chats at temperature 0 and opens the reply's
speculation details. Every user folder points at a fresh temporary directory, so nothing
of yours is read or changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs.screenshots import PROMPT, SETTINGS, isolate_user_folders  # noqa: E402

SERVER = "workstation"
MAIN = "google/gemma-3/gemma-3-270m-f16.gguf"  # keys in the second Specula's library
DRAFT = "google/gemma-3/gemma-3-270m-q4_k_m.gguf"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--size", default="1700x900")  # the servers' long model names
    ap.add_argument("--timeout", type=int, default=900, help="give up after this many seconds")
    args = ap.parse_args()
    width, height = (int(x) for x in args.size.split("x"))
    server_home = Path(tempfile.mkdtemp(prefix="specula-shots-server-"))
    home = isolate_user_folders()

    from tests.model_factory import gemma_f16_twin, gemma_q4
    from tests.remote_servers import specula_server

    with specula_server(server_home, {MAIN: gemma_f16_twin(), DRAFT: gemma_q4()}) as server:
        warm_up(server.url)
        code = shoot_window(server.url, args.out, width, height, args.timeout)
    shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(server_home, ignore_errors=True)
    return code


def warm_up(url: str) -> None:
    """One token from the pair, so the server has both models loaded before the chat (as a
    server in use has): the reply's time to first token is the chat's, not a model load."""
    import httpx

    body = {
        "model": MAIN,
        "draft_model": DRAFT,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 1,
    }
    httpx.post(f"{url}/v1/chat/completions", json=body, timeout=600).raise_for_status()


def shoot_window(url: str, out: Path, width: int, height: int, timeout: int) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication

    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.preferences import Preferences
    from app.ui.app import create_application
    from app.ui.main_window import MainWindow

    main_key, draft_key = f"{SERVER}/{MAIN}", f"{SERVER}/{DRAFT}"
    ModelLibrary().add_server(url, SERVER)
    ModelDefaultsStore().update(main_key, {"draft_model": draft_key, **SETTINGS})
    Preferences().set("theme", "light")
    os.environ.pop("PYTHON_KEYRING_BACKEND", None)

    app = create_application()
    w = MainWindow(auto_load=False)
    w.resize(width, height)
    w.move(0, 0)
    w.show()
    out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []

    def shoot(name: str) -> None:
        app.processEvents()
        screen = QGuiApplication.primaryScreen()
        g = w.frameGeometry()
        pixmap = screen.grabWindow(0, g.x(), g.y(), g.width(), g.height())
        path = out / name
        if not pixmap.save(str(path)):
            failures.append(name)
        print("wrote", path, flush=True)

    def later(ms: int, step: Callable[[], None]) -> None:
        QTimer.singleShot(ms, step)

    def on_servers() -> None:
        w.serversListed.disconnect(on_servers)
        w.load_key(main_key)

    def on_draft(key: str) -> None:
        if key:  # the pair is chosen: ask
            w.draftReady.disconnect(on_draft)
            w.chat.prompt.setPlainText(PROMPT)
            later(500, w.chat.commands.send)

    def on_reply() -> None:
        card = w.chat.view.cards[-1]
        card.details_button.setChecked(True)
        later(800, details)

    def details() -> None:
        view = w.chat.view
        card = view.cards[-1]
        view.verticalScrollBar().setValue(card.y() + card.height() - view.viewport().height() + 24)
        later(500, lambda: (shoot("remote-chat.png"), w.close(), app.quit()))

    w.serversListed.connect(on_servers)
    w.draftReady.connect(on_draft)
    w.chat.replyFinished.connect(on_reply)
    QTimer.singleShot(timeout * 1000, lambda: (failures.append("timeout"), app.quit()))
    app.exec()
    if failures:
        print("failed:", ", ".join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
