"""Add a server as a model source (My Models): its address, a name for it, and an API key,
which goes to the system keyring (never to our files). A refusal (an address that is not
one, no keyring to keep the key in) is said in the dialog, which stays open."""

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
from app.library.servers import RemoteServer, name_from_url, normalize_url

# what adding does: (url, name or None, key or None) -> the server added (raises SpeculaError)
AddServer = Callable[[str, str | None, str | None], RemoteServer]

INTRO = (
    "Chat with the models of another machine: another Specula (python -m app serve), "
    "llama-server, vLLM, SGLang or any OpenAI-compatible server. Its models are listed as "
    "<server name>/<model>."
)


class AddServerDialog(QDialog):
    def __init__(self, add: AddServer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a server")
        self.setObjectName("addServerDialog")
        self.add = add
        self.added: RemoteServer | None = None
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
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Add")
        ok.setEnabled(False)
        self.buttons.accepted.connect(self._on_add)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.resize(480, self.sizeHint().height())

    def _on_url_edited(self, text: str) -> None:
        try:
            default = name_from_url(normalize_url(text)) if text.strip() else ""
        except SpeculaError:
            default = ""
        self.name.setPlaceholderText(default)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(text.strip()))

    def _on_add(self) -> None:
        try:
            self.added = self.add(self.url.text(), self.name.text().strip() or None, self.key.text() or None)
        except SpeculaError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.accept()
