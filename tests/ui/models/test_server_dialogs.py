"""Adding and removing a model server in My Models, against real HTTP servers on 127.0.0.1:
a bad address, a wrong key, a machine that does not answer and a missing keyring are each
said in the dialog, in words a person can act on; a server that answers is added with its
key in the keyring; removing one forgets its key."""

from __future__ import annotations

import socket

import keyring
import pytest
from keyring.backends import fail

from app.library.library import ModelLibrary
from app.library.server_keys import SERVICE
from app.ui.models.server_dialog import ADD, ADD_ANYWAY, AddServerDialog, check_with_timeout
from app.ui.models.servers_dialog import ServersDialog
from app.ui.tasks import running_threads
from tests.openai_stub_server import StubReplies, stub_server

WAIT = 30_000


@pytest.fixture
def library() -> ModelLibrary:
    return ModelLibrary(roots=[], server_timeout=4.0)


def dialog_for(qtbot, library: ModelLibrary) -> AddServerDialog:
    dialog = AddServerDialog(library.add_server, check=check_with_timeout(4.0))
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def fill(dialog: AddServerDialog, url: str, name: str = "", key: str = "") -> None:
    dialog.url.setText(url)
    dialog.name.setText(name)
    dialog.key.setText(key)


def add(qtbot, dialog: AddServerDialog) -> None:
    """Click Add and wait for the server's answer (or the dialog's refusal)."""
    dialog.ok.click()
    qtbot.waitUntil(lambda: dialog.task is None, timeout=WAIT)


def test_an_address_that_is_not_one_is_refused_at_once(qtbot, library):
    dialog = dialog_for(qtbot, library)
    fill(dialog, "ftp://box")
    add(qtbot, dialog)
    assert dialog.error.isVisible()
    assert "is not a server address: type e.g. http://" in dialog.error.text()
    fill(dialog, "http://box:99999")
    add(qtbot, dialog)
    assert "is not a number from 1 to 65535" in dialog.error.text()
    assert dialog.isVisible()
    assert library.servers.servers() == []


def test_a_wrong_key_is_said_and_the_corrected_one_is_kept_in_the_keyring(qtbot, library):
    with stub_server(StubReplies(api_key="right")) as url:
        dialog = dialog_for(qtbot, library)
        fill(dialog, url, "box", "wrong")
        add(qtbot, dialog)
        assert "Invalid API key (HTTP 401)" in dialog.error.text()
        assert dialog.ok.text() == ADD_ANYWAY
        assert library.servers.servers() == []  # nothing kept yet, no key in the keyring
        assert keyring.get_password(SERVICE, "box") is None
        dialog.key.setText("right")  # corrected: asked again
        assert dialog.ok.text() == ADD
        with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
            dialog.ok.click()
    assert dialog.listing is not None
    assert [m["id"] for m in dialog.listing.models] == ["stub-model"]
    [server] = library.servers.servers()
    assert (server.name, server.url, server.has_key) == ("box", url, True)
    assert keyring.get_password(SERVICE, "box") == "right"
    assert "right" not in library.servers.file.path.read_text()


def test_a_machine_that_does_not_answer_is_said_and_can_be_added_anyway(qtbot, library):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    dialog = dialog_for(qtbot, library)
    fill(dialog, f"127.0.0.1:{port}")
    assert dialog.name.placeholderText() == f"127.0.0.1:{port}"
    add(qtbot, dialog)
    assert "did not list its models: unreachable" in dialog.error.text()
    assert library.servers.servers() == []
    with qtbot.waitSignal(dialog.accepted, timeout=WAIT):
        dialog.ok.click()  # "Add anyway": its models are listed once it answers
    [server] = library.servers.servers()
    assert (server.name, server.url) == (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    assert not server.has_key


@pytest.fixture
def no_keyring():
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


def test_without_a_keyring_a_key_is_refused_with_what_to_do(qtbot, library, no_keyring):
    with stub_server(StubReplies(api_key="right")) as url:
        dialog = dialog_for(qtbot, library)
        fill(dialog, url, "box", "right")
        add(qtbot, dialog)
    assert "no system keyring is available to keep the API key" in dialog.error.text()
    assert "never writes keys to its own files" in dialog.error.text()
    assert dialog.isVisible()
    assert library.servers.servers() == []


def test_the_list_says_what_each_server_answered_and_removing_one_forgets_its_key(qtbot, library):
    with stub_server(StubReplies(models=["a", "b"], api_key="k")) as url:
        library.add_server(url, "box", "k")
        library.add_server("http://127.0.0.1:9", "gone")
        library.refresh_servers()
    dialog = ServersDialog(library, check=check_with_timeout(4.0))
    qtbot.addWidget(dialog)
    rows = {
        dialog.table.item(r, 0).text(): [dialog.table.item(r, c).text() for c in range(1, 4)]
        for r in range(dialog.table.rowCount())
    }
    assert rows["box"] == [url, "OpenAI-compatible, 2 models", "in the system keyring"]
    assert rows["gone"][0] == "http://127.0.0.1:9"
    assert rows["gone"][1].startswith("did not list its models: unreachable")
    assert not dialog.remove_button.isEnabled()
    dialog.table.selectRow(0)
    with qtbot.waitSignal(dialog.serversChanged):
        dialog.remove_button.click()
    assert [s.name for s in library.servers.servers()] == ["gone"]
    assert keyring.get_password(SERVICE, "box") is None
    assert "box/a" not in library.all_entries
    assert dialog.table.rowCount() == 1
    assert not running_threads()
