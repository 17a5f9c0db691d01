"""The Local Server page serves the chat's loaded model from inside the app."""

from __future__ import annotations

import json
import socket
import urllib.request

from PySide6.QtWidgets import QApplication

from app.ui.main_window import MainWindow

WAIT = 30_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def test_server_page_shares_the_chats_model_and_logs_requests(qtbot, library_models):
    w = MainWindow(auto_load=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
        pass
    with qtbot.waitSignal(w.modelReady, timeout=WAIT):
        w.load_key(library_models["main"])
    page = w.server_page
    page.port.setValue(free_port())
    page.start()
    try:
        assert page.running
        assert page.address.text().startswith("http://127.0.0.1:")
        models = get(page.url + "/api/v0/models")["data"]
        state = {m["id"]: m["state"] for m in models}
        assert state[library_models["main"]] == "loaded"  # the chat's instance, not a second copy
        req = urllib.request.Request(
            page.url + "/v1/chat/completions",
            data=json.dumps(
                {
                    "model": library_models["main"],
                    "messages": [{"role": "user", "content": "hi"}],
                    "max_tokens": 5,
                }
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        qtbot.waitUntil(lambda: "POST /v1/chat/completions 200" in page.log_text(), timeout=WAIT)
        reply = next(line for line in page.log_text().splitlines() if "/v1/chat/completions" in line)
        assert library_models["main"] in reply
        assert "no draft" in reply
        assert "  5  " in reply  # the tokens column
    finally:
        page.stop()
    assert not page.running
    assert page.address.text() == "Stopped"
    w.shutdown()


def test_lan_without_api_key_is_refused_with_a_message(qtbot):
    w = MainWindow(auto_load=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
        pass
    w.server_page.lan.setChecked(True)
    w.server_page.start()
    assert not w.server_page.running
    assert "requires an API key" in w.server_page.error.text()
    w.shutdown()


def test_a_server_note_shows_its_time_once_and_its_whole_text(qtbot, tmp_path):
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.runtime import ModelRuntime
    from app.server.records import ServerNote
    from app.ui.server.page import ServerPage

    runtime = ModelRuntime(ModelLibrary(), ModelDefaultsStore())
    page = ServerPage(runtime)
    qtbot.addWidget(page)
    page.resize(700, 500)
    page.show()
    qtbot.waitExposed(page)
    message = "Could not start the server: " + "port 8080 is taken by another program; " * 6
    page._on_log_record(ServerNote(message, time=0.0))
    item = page.log.topLevelItem(0)
    assert item.text(1) == message  # no time in it: the Time column has it
    assert page.log_text().count(item.text(0)) == 1
    for _ in range(3):
        QApplication.processEvents()
    rect = page.log.visualItemRect(item)
    assert rect.height() > 2 * page.log.fontMetrics().height()  # wrapped whole, not cut
    runtime.close(timeout=30)
