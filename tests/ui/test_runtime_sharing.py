"""The chat and the local server share one model runtime: the chat switching its draft and
ejecting while a server request is drafting with those very models neither crashes nor
breaks the request, and nothing is closed under its decode."""

from __future__ import annotations

import json
import threading
import urllib.request

from app.server.jobs import GenerationJob
from app.ui.main_window import MainWindow
from tests.ui.server.test_page import free_port

WAIT = 30_000


def test_chat_switches_draft_and_ejects_while_a_server_request_drafts(qtbot, library_models, monkeypatch):
    main, twin, noisy = library_models["main"], library_models["twin"], library_models["noisy"]
    w = MainWindow(auto_load=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
        pass
    with qtbot.waitSignal(w.draftReportReady, timeout=WAIT):
        w.load_key(main)
    with qtbot.waitSignal(w.draftReady, timeout=WAIT, check_params_cb=lambda k: k == twin):
        w.chat.sidebar.select_draft(twin)
    chat_models = {i.key: i for i in w.runtime.loaded()}
    assert set(chat_models) == {main, twin}
    assert all(i.pinned for i in chat_models.values())

    # The server request pauses inside its decode (its cancel flag is read every round).
    paused, resume = threading.Event(), threading.Event()
    calls = {"n": 0}

    class GatedFlag(threading.Event):
        def is_set(self) -> bool:
            calls["n"] += 1
            if calls["n"] == 5:
                paused.set()
                resume.wait(30)
            return super().is_set()

    original_init = GenerationJob.__init__

    def init(self: GenerationJob, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        self.cancel = GatedFlag()

    monkeypatch.setattr(GenerationJob, "__init__", init)
    page = w.server_page
    page.port.setValue(free_port())
    page.start()
    outcome: dict[str, object] = {}

    def request() -> None:
        body = {
            "model": main,
            "draft_model": twin,
            "prompt": "the cat",
            "max_tokens": 60,
            "temperature": 0,
            "draft_p_min": 0,
            "draft_max": 4,
            "draft_auto": False,
        }
        req = urllib.request.Request(
            page.url + "/api/v0/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                outcome["status"], outcome["body"] = resp.status, json.loads(resp.read())
        except Exception as exc:  # reported by the assertions below
            outcome["error"] = exc

    client = threading.Thread(target=request)
    try:
        client.start()
        assert paused.wait(30), "the request never started decoding"
        w.chat.sidebar.select_draft(noisy)  # the chat switches its draft ...
        w.eject_button.click()  # ... and ejects, while the request drafts with both models
        qtbot.wait(300)  # the window stays responsive; the worker waits for its turn
        assert w.runtime.loaded_keys() >= {main, twin}  # nothing closed under the decode
        resume.set()
        client.join(60)
        assert outcome.get("status") == 200, outcome
        stats = outcome["body"]["stats"]  # type: ignore[index]
        assert outcome["body"]["usage"]["completion_tokens"] == 60  # type: ignore[index]
        assert stats["draft_model"] == "twin.gguf"
        assert stats["accepted_draft_tokens_count"] > 0
        qtbot.waitUntil(lambda: not w.loaded_key and not w.worker.main_key, timeout=WAIT)
        qtbot.waitUntil(lambda: w.runtime.loaded() == [], timeout=WAIT)  # all freed afterwards
    finally:
        resume.set()
        client.join(60)
        page.stop()
        w.shutdown()
