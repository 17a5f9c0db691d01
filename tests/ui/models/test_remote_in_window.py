"""A model on another machine in the real window: listed in the model bar under its server's
name once the server answers (the window never waits for it), loaded and chatted with like a
model here; a server that reports no speculation gets a details panel that says so."""

from __future__ import annotations

from app.library.library import ModelLibrary
from app.ui.main_window import MainWindow
from tests.openai_stub_server import StubReplies, finish_chunk, stub_server, text_chunk
from tests.ui.window_helpers import send

WAIT = 30_000
CHUNKS = [
    text_chunk("Red, "),
    text_chunk("green, blue."),
    finish_chunk("stop", usage={"prompt_tokens": 9, "completion_tokens": 5}),
]


def test_a_servers_model_is_in_the_model_bar_and_chats_saying_it_reports_no_speculation(qtbot):
    with stub_server(StubReplies(chunks=CHUNKS, models=["big-model"])) as url:
        ModelLibrary().add_server(url, "workstation")
        w = MainWindow(auto_load=False)
        qtbot.addWidget(w)
        with qtbot.waitSignal(w.serversListed, timeout=WAIT):
            pass
        try:
            picker = w.model_bar.picker
            index = picker.findData("workstation/big-model")
            assert index >= 0
            assert picker.itemText(index).startswith("workstation/big-model")
            with qtbot.waitSignal(w.draftReportReady, timeout=WAIT):
                w.load_key("workstation/big-model")
            assert picker.currentText().startswith("workstation/")  # the server's name in the bar
            send(qtbot, w, "Name three colours.")
            card = w.chat.view.cards[-1]
            assert "Red, green, blue." in card.message.text
            assert card.details_button.isVisibleTo(card)
            card.details_button.setChecked(True)
            assert card.details is not None
            labels = [label.text() for label in card.details.findChildren(type(card.header))]
            assert "This server reports no speculation" in labels
        finally:
            w.shutdown()


def test_a_server_that_never_answers_holds_up_nothing_and_becomes_a_problem_row(qtbot):
    import socket

    with socket.socket() as hung:  # takes connections, never answers
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        ModelLibrary().add_server(f"http://127.0.0.1:{hung.getsockname()[1]}", "hung")
        w = MainWindow(auto_load=False)
        qtbot.addWidget(w)
        try:
            with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
                pass
            assert not w.library.servers_listed  # the window is ready while the server is asked
            with qtbot.waitSignal(w.serversListed, timeout=WAIT):
                pass
            [problem] = w.library.server_problems
            assert problem.reason == "server hung: no answer within 4 s"
            table = w.models.table  # a row under My Models' problems
            reasons = [table.item(r, table.columnCount() - 1).text() for r in range(table.rowCount())]
            assert "server hung: no answer within 4 s" in reasons
        finally:
            w.shutdown()
