"""Add a server as a model source (My Models): its address, a name for it, and an API key,
which goes to the system keyring (never to our files).

The server is asked for its models before it is added (off the GUI thread, within the
listing's timeout), so a mistyped address, a wrong key or a machine that is off is said in
the dialog, in the server's own words, while the fields can still be corrected. A server
that is off for now can still be added ("Add anyway"): its models appear once it answers.
An address that is not one, or no keyring to keep the key in, is refused at once.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SpeculaError
from app.library.server_listing import LIST_TIMEOUT, ServerListing, list_server
from app.library.servers import RemoteServer, check_name, name_from_url, normalize_url
from app.ui.tasks import BackgroundTask

# what adding does: (url, name or None, key or None) -> the server added (raises SpeculaError)
AddServer = Callable[[str, str | None, str | None], RemoteServer]
# how a server is asked for its models before it is added: (server, key or None) -> listing
CheckServer = Callable[[RemoteServer, str | None], ServerListing]

INTRO = (
    "Chat with the models of another machine: another Specula (python -m app serve), "
    "llama-server, vLLM, SGLang or any OpenAI-compatible server. Its models are listed as "
    "<server name>/<model>."
)
ADD, ADD_ANYWAY = "Add", "Add anyway"


def check_with_timeout(timeout: float = LIST_TIMEOUT) -> CheckServer:
    def check(server: RemoteServer, key: str | None) -> ServerListing:
        return list_server(server, timeout, key)

    return check


class AddServerDialog(QDialog):
    def __init__(
        self, add: AddServer, parent: QWidget | None = None, check: CheckServer | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a server")
        self.setObjectName("addServerDialog")
        self.add = add
        self.check = check or check_with_timeout()
        self.added: RemoteServer | None = None
        self.listing: ServerListing | None = None  # what the server said when it was asked
        self.task: BackgroundTask | None = None
        self.pending: tuple[RemoteServer, str | None] = (RemoteServer("", ""), None)  # being asked
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        intro.setObjectName("muted")
        self.url = QLineEdit()
        self.url.setObjectName("serverUrl")
        self.url.setPlaceholderText("http://192.168.1.20:1234")
        self.url.textChanged.connect(self._on_url_edited)
        self.name = QLineEdit()
        self.name.setObjectName("serverName")
        self.key = QLineEdit()
        self.key.setObjectName("serverKey")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("optional; kept in the system keyring")
        for field in (self.name, self.key):
            field.textChanged.connect(self._on_edited)
        self.error = QLabel()
        self.error.setObjectName("serverError")
        self.error.setWordWrap(True)
        self.error.hide()
        form = QFormLayout()
        form.addRow("Address", self.url)
        form.addRow("Name", self.name)
        form.addRow("API key", self.key)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ADD)
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self._on_add)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(480, self.sizeHint().height())

    # --- editing ------------------------------------------------------------------------------
    def _on_url_edited(self, text: str) -> None:
        try:
            default = name_from_url(normalize_url(text)) if text.strip() else ""
        except SpeculaError:
            default = ""
        self.name.setPlaceholderText(default)
        self._on_edited()

    def _on_edited(self) -> None:
        """A corrected field is asked about again."""
        self.ok.setText(ADD)
        self.ok.setEnabled(bool(self.url.text().strip()) and self.task is None)

    def _say(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    # --- adding -------------------------------------------------------------------------------
    def _fields(self) -> tuple[RemoteServer, str | None]:
        url = normalize_url(self.url.text())
        key = self.key.text() or None
        return RemoteServer(check_name(self.name.text() or name_from_url(url)), url, bool(key)), key

    def _on_add(self) -> None:
        try:
            server, key = self._fields()
        except SpeculaError as exc:
            self._say(str(exc))
            return
        if self.ok.text() == ADD_ANYWAY:
            self._keep(server, key)
            return
        self._say(f"Asking {server.url} for its models…")
        self.ok.setEnabled(False)
        for field in (self.url, self.name, self.key):
            field.setReadOnly(True)
        self.pending = server, key
        check = self.check
        self.task = BackgroundTask(lambda _report: check(server, key), self)
        self.task.succeeded.connect(self._on_checked)
        self.task.failedWith.connect(self._on_check_failed)
        self.task.start()

    def _on_check_failed(self, text: str) -> None:
        self._on_checked(ServerListing(self.pending[0], problem=text))

    def _on_checked(self, listing: ServerListing) -> None:
        if self.task is not None:
            self.task.wait()
            self.task = None
        server, key = self.pending
        for field in (self.url, self.name, self.key):
            field.setReadOnly(False)
        self.listing = listing
        if listing.online:
            self._keep(server, key)
            return
        self._say(
            f"{server.url} did not list its models: {listing.problem}. Correct the address or the "
            f"key, or add it anyway (its models are listed once it answers)."
        )
        self.ok.setText(ADD_ANYWAY)
        self.ok.setEnabled(True)

    def _keep(self, server: RemoteServer, key: str | None) -> None:
        try:
            self.added = self.add(server.url, server.name, key)
        except SpeculaError as exc:  # no keyring to keep the key in
            self._say(str(exc))
            self.ok.setText(ADD)
            self.ok.setEnabled(True)
            return
        self.accept()

    def done(self, result: int) -> None:
        """Closing while the server is asked waits for the answer (at most the timeout): the
        thread must not outlive the dialog."""
        if self.task is not None:
            self.task.wait()
            self.task = None
        super().done(result)
