"""Conversations in and out of the window: File menu and context-menu exports, File > Import
and the one offer of LM Studio's conversations, the summary; a reply the disk has no room for
stays on screen, says so, and is saved when space returns; a full disk at start is a banner."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.chat.reply import SEND
from app.chat.store import ChatStore, StoredMessage
from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult, GenerationStats
from app.library.paths import data_dir
from app.ui.chat.page import ChatPage
from app.ui.main_window import MainWindow
from tests.chat.transfer.conversations import lmstudio_conversation, rich_conversation, write_json

WAIT = 30_000


@pytest.fixture
def open_window(qtbot) -> Iterator:
    windows: list[MainWindow] = []

    def make(**kwargs: object) -> MainWindow:
        w = MainWindow(auto_load=False, **kwargs)  # type: ignore[arg-type]
        qtbot.addWidget(w)
        with qtbot.waitSignal(w.libraryReady, timeout=WAIT):
            pass
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.shutdown()


def lmstudio_home() -> Path:
    folder = Path.home() / ".lmstudio" / "conversations"
    write_json(folder / "1756219403097.conversation.json", lmstudio_conversation("Primes"))
    (folder / "1756210000000.conversation.json").write_text("{broken")
    return folder


def test_lmstudio_conversations_are_offered_once_and_come_in_green(open_window):
    lmstudio_home()
    w = open_window()
    offer = w.transfer.offer
    assert offer.isVisibleTo(w)
    assert "LM Studio has 2 conversations on this computer" in offer.label.text()
    offer.buttons["import"].click()
    assert not offer.isVisibleTo(w)
    box = w.transfer.summary_box
    assert box.text() == "Imported 1 conversation (2 messages); 1 skipped."
    assert "it is not valid JSON" in box.detailedText()
    assert w.chat.session.title == "Primes"
    titles = [w.chat.conv_list.item(i).text() for i in range(w.chat.conv_list.count())]
    assert sorted(titles) == ["New chat", "Primes"]  # by when they were written: LM Studio's is older
    reply = w.chat.view.messages[-1]
    assert reply.text == "Eleven is a prime."
    assert reply.origins == [[6, "main"], [11, "draft"], [1, "main"]]  # drawn green, as in LM Studio
    assert (reply.version, reply.versions) == (1, 3)
    assert "measured by LM Studio" in w.chat.view.cards[-1].stats_label.text()
    box.close()
    again = open_window()
    assert not again.transfer.offer.isVisibleTo(again)  # offered once; File > Import has it
    again.transfer.ask_import()
    dialog = again.transfer.import_dialog
    assert dialog.lmstudio_button.text() == "LM Studio's conversations (2)"
    dialog.lmstudio_button.click()
    assert (
        again.transfer.summary_box.text()
        == "Imported 0 conversations (0 messages); 1 already here; 1 skipped."
    )
    again.transfer.summary_box.close()


def test_the_file_menu_and_the_context_menu_export(open_window, monkeypatch, tmp_path):
    store = ChatStore(data_dir() / "conversations.sqlite3")
    cid = rich_conversation(store)
    w = open_window(store=store)
    for name in ("import_chats", "export_chat", "export_all"):
        assert w.menu_actions[name].isEnabled()
    asked = []

    def save_as(_parent, _title, suggested, filters, chosen):
        asked.append((Path(suggested).name, filters.split(";;")[0], chosen))
        return str(tmp_path / Path(suggested).name), chosen

    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_as)
    w.chat.open_conversation(cid)
    w.menu_actions["export_chat"].trigger()
    assert asked[-1][0] == "What is the capital of France.md"
    assert (tmp_path / "What is the capital of France.md").read_text().startswith("# What is the capital")
    item = w.chat.conv_list.item(0)
    menu = w.chat.conversations.context_menu(item)
    [html_action] = [a for a in menu.actions() if a.objectName() == "export_html"]
    html_action.trigger()
    assert asked[-1][1] == "HTML page (*.html)"
    assert "<!doctype html>" in (tmp_path / "What is the capital of France.html").read_text()
    w.menu_actions["export_all"].trigger()
    assert asked[-1][0] == "Specula conversations.md"


@pytest.fixture
def page_on_tiny_disk(qtbot, tiny_disk):
    store = ChatStore(tiny_disk.root / "data" / "conversations.sqlite3")
    p = ChatPage(store)
    qtbot.addWidget(p)
    p.resize(1300, 800)
    p.show()
    qtbot.waitExposed(p)
    yield p, tiny_disk
    store.close()


def test_a_reply_the_disk_has_no_room_for_stays_says_so_and_is_saved_later(qtbot, page_on_tiny_disk):
    page, disk = page_on_tiny_disk
    page.set_model_pair("Main", "Draft", "main.gguf", "draft.gguf")
    jobs = []
    page.generateRequested.connect(jobs.append)
    page.prompt.setPlainText("hello")
    page.commands.send()
    reply_id = jobs[0].reply_id
    text = "A long reply. " * 2000
    page.replies.on_tokens(reply_id, StreamBatch(pieces=[(text, "draft", 1)], tokens=1))
    disk.fill()
    with qtbot.waitSignal(page.replyFinished):
        page.replies.on_finished(reply_id, GenerationResult(text, GenerationStats(draft_model="draft.gguf")))
    assert page.unsaved_hint.isVisible()
    assert page.unsaved_hint.label.text().startswith(
        "Disk full: this reply is not saved yet (the disk is full ("
    )
    assert page.view.messages[-1].text == text  # still on screen
    assert page.store.messages(page.conversation_id)[-1].content == "hello"
    page.prompt.setPlainText("next")
    assert not page.send_button.isEnabled()  # nothing replies past it
    assert "the disk is full" in page.send_button.toolTip()
    page.compose()  # shown again from the session: it is still there
    assert page.view.messages[-1].text == text
    disk.free()
    page.notices.save_retry.setInterval(50)
    qtbot.waitUntil(lambda: not page.unsaved_hint.isVisible(), timeout=WAIT)
    assert page.store.messages(page.conversation_id)[-1].content == text


def test_a_message_sent_on_a_full_disk_that_brings_no_reply_goes_back_to_the_message_box(
    qtbot, page_on_tiny_disk
):
    page, disk = page_on_tiny_disk
    page.set_model_pair("Main", "Draft", "main.gguf", "draft.gguf")
    jobs = []
    page.generateRequested.connect(jobs.append)
    page.session.open_latest_or_new()
    disk.fill()
    page.prompt.setPlainText("asked while the disk was full")
    page.commands.send()
    assert page.prompt.toPlainText() == ""
    with qtbot.waitSignal(page.replyFinished):
        page.replies.on_failed(jobs[0].reply_id, "the model failed")
    assert page.prompt.toPlainText() == "asked while the disk was full"
    assert page.view.messages == []


def test_a_full_disk_at_start_is_a_banner(open_window, tiny_disk):
    path = tiny_disk.root / "data" / "conversations.sqlite3"
    ChatStore(path).close()
    tiny_disk.fill()
    w = open_window(store=ChatStore(path))
    assert w.notices.isVisibleTo(w)
    assert "Conversations cannot be saved now: the disk is full (" in w.notices.label.text()


def test_closing_asks_first_when_a_full_disk_would_lose_a_reply(open_window, tiny_disk, monkeypatch):
    asked = []
    answers = [QMessageBox.StandardButton.No, QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]

    def question(_parent, _title, text):
        asked.append(text)
        return answers[len(asked) - 1]

    monkeypatch.setattr(QMessageBox, "question", question)
    w = open_window(store=ChatStore(tiny_disk.root / "data" / "conversations.sqlite3"))
    session = w.chat.session
    w.model_state.loaded_key = "main.gguf"  # as if loaded: the session reads the pair there
    session.begin(SEND, "question")
    tiny_disk.fill()
    assert not w.close()  # the reply being written could not be kept
    assert asked[-1].startswith("The reply being written cannot be saved: the disk is full (")
    session.commit(StoredMessage("assistant", "A long reply. " * 2000))
    assert not w.close()
    assert asked[-1].startswith("The last reply is not saved yet: the disk is full (")
    tiny_disk.free()
    assert w.close()  # saved on the way out: nothing to ask
    assert len(asked) == 2
    again = ChatStore(tiny_disk.root / "data" / "conversations.sqlite3")
    assert [m.content for m in again.messages(session.conversation_id)][-1].startswith("A long reply.")
    again.close()
