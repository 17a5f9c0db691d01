"""The window says what happened to the user's files, and a damaged conversation shows an
error in its place while the others open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.chat.store import ChatStore
from app.library.paths import config_dir, data_dir
from app.ui.main_window import MainWindow
from tests.reliability.test_store_opens import damage, fill, zero_page_holding

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


def test_a_damaged_conversations_file_opens_with_a_banner_saying_where_it_went(open_window):
    path = fill(data_dir() / "conversations.sqlite3", 12, 10)
    damage(path, path.stat().st_size // 2, 2 * 4096)
    w = open_window()
    assert w.notices.isVisibleTo(w)
    text = w.notices.label.text()
    assert "damaged" in text
    assert str(w.store.notice.kept_as) in text
    assert w.chat.conv_list.count() == 12
    damaged = [c.id for c in w.store.conversations() if w.store.damage_note(c.id)]
    assert damaged
    w.chat.open_conversation(damaged[0])
    assert "recovered from a damaged file" in w.chat.banner.text()
    w.notices.dismiss()
    assert not w.notices.isVisibleTo(w)
    w.show_file_notices()  # a dismissed message stays dismissed
    assert not w.notices.isVisibleTo(w)


def test_an_unreadable_conversation_shows_an_error_in_its_place(open_window):
    path = fill(data_dir() / "conversations.sqlite3", 12, 10)
    store = ChatStore(path)
    w = open_window(store=store)
    ids = {c.title: c.id for c in store.conversations()}
    zero_page_holding(path, b"message 4-5 ")
    store._db.execute("PRAGMA shrink_memory")
    w.chat.open_conversation(ids["conversation 4"])
    assert "could not be read" in w.chat.banner.text()
    assert w.chat.view.messages == []
    w.chat.open_conversation(ids["conversation 5"])
    assert len(w.chat.view.messages) == 10
    w.chat.search.setText("message 9-")
    assert [w.chat.conv_list.item(i).text() for i in range(w.chat.conv_list.count())] == ["conversation 9"]


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("model-defaults.json", "per-model defaults"),
        ("ui-preferences.json", "preferences"),
        ("app-state.json", "the app's saved state"),
    ],
)
def test_settings_set_aside_are_shown_in_the_window(open_window, name, what):
    path = config_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff\xfe not json")
    w = open_window()
    assert f"{what} could not be read" in w.notices.label.text()
    assert any(p.name.startswith(f"{name}.corrupt-") for p in path.parent.iterdir())


def test_no_banner_when_all_is_well(open_window):
    w = open_window()
    assert not w.notices.isVisibleTo(w)
    assert w.notices.messages == []
    assert w.store.notice is None
    assert w.store.saving
