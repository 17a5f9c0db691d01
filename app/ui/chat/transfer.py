"""Conversations in and out of the window: export (File menu, the conversations' context menu),
import (File > Import: LM Studio's conversations, files or a folder), its summary, and the one
offer to import LM Studio's conversations when they are first found.

Imports run in the GUI thread (the conversations file's connection lives there), under a wait
cursor: a 5,000-message conversation takes under a second (bench/chats_bench.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QDialog, QFileDialog, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from app.chat.session import ChatSession
from app.chat.store import StoreFullError
from app.chat.transfer import lmstudio
from app.chat.transfer.exporting import FORMATS, export, format_of
from app.chat.transfer.importing import ImportSummary, import_paths
from app.core.errors import SpeculaError
from app.library.app_state import AppState
from app.ui.chat.hints import HintBar

FILTERS = {
    "md": "Markdown (*.md)",
    "json": "Specula JSON, imports back losslessly (*.json)",
    "html": "HTML page (*.html)",
}


def _safe_name(title: str) -> str:
    kept = "".join(c if c.isalnum() or c in " -_" else " " for c in title).strip()
    return " ".join(kept.split())[:60] or "conversation"


class ConversationTransfer(QObject):
    imported = Signal(object)  # ImportSummary
    exported = Signal(str)  # the file written
    problemRaised = Signal(str)

    def __init__(self, session: ChatSession, window: QWidget) -> None:
        super().__init__(window)
        self.session = session
        self.window = window
        self.summary_box: QMessageBox | None = None
        self.import_dialog: ImportDialog | None = None
        self.offer = HintBar("importOffer")
        self.offer.add_button(
            "import", "Import them", "Import LM Studio's conversations", self._on_offer_taken
        )
        self.offer.add_button(
            "later", "Not now", "File > Import conversations offers them again", self.offer.hide
        )

    # --- export --------------------------------------------------------------------------------
    def ask_export(self, ids: Sequence[int] | None, fmt: str = "") -> None:
        """Ask where to write the conversations named (all when None), then write them."""
        if ids is not None and not ids:
            self.problemRaised.emit("There is no conversation to export yet.")
            return
        if ids is not None and len(ids) == 1:
            conv = self.session.store.conversation(ids[0])
            name = _safe_name(conv.title if conv else "conversation")
        else:
            name = "Specula conversations"
        order = [fmt] if fmt else []
        order += [f for f in FORMATS if f not in order]
        chosen_filter = FILTERS[order[0]]
        path, used = QFileDialog.getSaveFileName(
            self.window,
            "Export conversation" if ids is not None and len(ids) == 1 else "Export conversations",
            str(Path.home() / f"{name}.{order[0]}"),
            ";;".join(FILTERS[f] for f in order),
            chosen_filter,
        )
        if path:
            by_filter = next((f for f, text in FILTERS.items() if text == used), order[0])
            self.export_to(Path(path), ids, format_of(Path(path), by_filter))

    def export_to(self, path: Path, ids: Sequence[int] | None, fmt: str) -> bool:
        if fmt not in FORMATS:
            fmt = "md"
            path = path.with_suffix(path.suffix + ".md")
        try:
            export(self.session.store, ids, fmt, path)
        except (SpeculaError, OSError) as exc:
            self.problemRaised.emit(f"Could not export to {path}: {exc}")
            return False
        self.exported.emit(str(path))
        return True

    # --- import --------------------------------------------------------------------------------
    def ask_import(self) -> None:
        """File > Import conversations: LM Studio's, when there are some, or files or a folder."""
        self.import_dialog = ImportDialog(self, lmstudio.found_conversations(), self.window)
        self.import_dialog.open()

    def import_from(self, paths: Sequence[Path]) -> ImportSummary:
        """Import, then show what came in (the first conversation imported is opened)."""
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            summary = import_paths(self.session.store, list(paths))
        except StoreFullError as exc:
            summary = ImportSummary()
            self.problemRaised.emit(f"Nothing was imported: {exc}.")
        finally:
            QGuiApplication.restoreOverrideCursor()
        self.session.events.conversations.emit()
        if summary.imported and self.session.reply is None:
            self.session.open(summary.imported[0].conversation_id)
        self._show_summary(summary)
        self.imported.emit(summary)
        return summary

    def _show_summary(self, summary: ImportSummary) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Information if summary.anything_imported else QMessageBox.Icon.Warning,
            "Import conversations",
            summary.headline(),
            QMessageBox.StandardButton.Ok,
            self.window,
        )
        lines = summary.lines()[1:]
        if lines:
            box.setDetailedText("\n".join(lines))
        box.setObjectName("importSummary")
        self.summary_box = box
        box.open()

    # --- LM Studio's conversations, offered once ----------------------------------------------------
    def offer_lmstudio(self, state: AppState) -> bool:
        """Offer LM Studio's conversations the first time some are found; True when offered."""
        if state.lmstudio_chats_offered:
            return False
        found = lmstudio.found_conversations()
        if not found:
            return False
        state.mark_lmstudio_chats_offered()
        n = len(found)
        self.offer.say(
            f"LM Studio has {n} conversation{'s' if n != 1 else ''} on this computer. Import "
            f"{'them' if n != 1 else 'it'} (its drafted tokens shown green)? File > Import conversations "
            "offers this again."
        )
        return True

    def _on_offer_taken(self) -> None:
        self.offer.hide()
        self.import_from(lmstudio.found_conversations())


class ImportDialog(QDialog):
    """Where to import from: LM Studio's conversations (when found), files, or a folder."""

    def __init__(
        self, transfer: ConversationTransfer, found: list[Path], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import conversations")
        self.transfer = transfer
        self.found = found
        text = QLabel(
            "Import conversations from LM Studio, from ChatGPT's export (conversations.json, or the "
            ".zip it comes in) or from Specula's own JSON export. A conversation imported before is "
            "not imported twice."
        )
        text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        self.lmstudio_button = QPushButton(
            f"LM Studio's conversations ({len(found)})" if found else "No LM Studio conversations found"
        )
        self.lmstudio_button.setEnabled(bool(found))
        self.lmstudio_button.setToolTip("\n".join(str(f) for f in lmstudio.conversation_folders()))
        self.lmstudio_button.clicked.connect(lambda: self._import(found))
        files = QPushButton("Choose files...")
        files.clicked.connect(self._choose_files)
        folder = QPushButton("Choose a folder...")
        folder.clicked.connect(self._choose_folder)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        for b in (self.lmstudio_button, files, folder, cancel):
            layout.addWidget(b)

    def _import(self, paths: Sequence[Path]) -> None:
        self.accept()
        self.transfer.import_from(paths)

    def _choose_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import conversations", str(Path.home()), "Conversations (*.json *.zip);;All files (*)"
        )
        if paths:
            self._import([Path(p) for p in paths])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Import the conversations in a folder", str(Path.home())
        )
        if folder:
            self._import([Path(folder)])
