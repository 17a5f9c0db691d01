"""The servers added as model sources (My Models' "Servers…"): each with its address, what it
answered the last time it was asked (its kind and models, or why not) and whether a key is
kept for it; adding one (the Add a server dialog) and removing one (its key leaves the
keyring with it). The window lists the servers' models again whenever the list changes."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.library.library import ModelLibrary
from app.library.server_listing import ServerListing
from app.ui.models.server_dialog import AddServerDialog, CheckServer

COLUMNS = ("Name", "Address", "Last answer", "API key")
NONE_YET = "No server yet: add one to chat with the models of another machine."


def answer_text(listing: ServerListing | None) -> str:
    """What a server said the last time it was asked, in a few words."""
    if listing is None:
        return "not asked yet"
    if not listing.online:
        return f"did not list its models: {listing.problem}"
    n = len(listing.models)
    return f"{listing.kind.label}, {n} model{'s' if n != 1 else ''}"


class ServersDialog(QDialog):
    serversChanged = Signal()  # a server was added or removed: its models are listed again

    def __init__(
        self, library: ModelLibrary, parent: QWidget | None = None, check: CheckServer | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model servers")
        self.setObjectName("serversDialog")
        self.library = library
        self.check = check
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("serversTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.empty = QLabel(NONE_YET)
        self.empty.setObjectName("muted")
        self.add_button = QPushButton("Add a server…")
        self.add_button.setObjectName("addServerButton")
        self.add_button.clicked.connect(self.open_add)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removeServerButton")
        self.remove_button.setToolTip("Stop listing its models, and remove its API key from the keyring")
        self.remove_button.clicked.connect(self._on_remove)
        close = QPushButton("Close")
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addLayout(buttons)
        self.resize(720, 320)
        self.show_servers()

    def show_servers(self) -> None:
        """The list as the library has it now (again after every listing)."""
        servers = self.library.servers.servers()
        self.table.setRowCount(len(servers))
        for row, server in enumerate(servers):
            listing = self.library.listings.get(server.name)
            texts = (
                server.name,
                server.url,
                answer_text(listing),
                "in the system keyring" if server.has_key else "none",
            )
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(row, column, item)
        self.empty.setVisible(not servers)
        self._on_selection()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item is not None else None

    def _on_selection(self) -> None:
        self.remove_button.setEnabled(self.selected_name() is not None)

    def open_add(self) -> AddServerDialog:
        dialog = AddServerDialog(self.library.add_server, self, self.check)
        dialog.accepted.connect(self._on_added)
        dialog.open()
        return dialog

    def _on_added(self) -> None:
        self.show_servers()
        self.serversChanged.emit()

    def _on_remove(self) -> None:
        name = self.selected_name()
        if name is not None and self.library.remove_server(name):
            self.show_servers()
            self.serversChanged.emit()
