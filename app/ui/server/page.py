"""Local Server page: start/stop the OpenAI-compatible server inside the app, which shares the
chat's loaded models, with the address to copy and a live log: every request, and for every
reply its model, speed and draft acceptance."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SpeculaError
from app.runtime import ModelRuntime
from app.server.config import ServerConfig
from app.server.records import RequestRecord, ServerNote
from app.server.serving import LocalServer

LOG_COLUMNS = ("Time", "Event", "Model", "Tokens", "tok/s", "Draft accepted")
MAX_LOG_ROWS = 2000


class _LogBridge(QObject):
    """Carries the server's records (RequestRecord, ServerNote) from its threads to the GUI
    thread (queued signal)."""

    recordArrived = Signal(object)


def acceptance_cell(record: RequestRecord) -> str:
    if record.tokens is None:
        return ""
    if not record.draft:
        return "no draft"
    pct = f"{100 * record.acceptance:.0f}%" if record.acceptance is not None else "–"
    return f"{pct} ({record.draft})"


class ServerPage(QWidget):
    stateChanged = Signal(bool)

    def __init__(self, runtime: ModelRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.server: LocalServer | None = None
        self._bridge = _LogBridge()
        self._bridge.recordArrived.connect(self._on_log_record)

        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(1234)
        self.lan = QCheckBox("Serve on the local network (requires an API key)")
        self.api_key = QLineEdit()
        self.api_key.setPlaceholderText("optional on this computer, required on the network")
        self.api_key.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.cors = QCheckBox("Allow browser pages from other origins (CORS)")
        form = QFormLayout()
        form.addRow("Port", self.port)
        form.addRow("API key", self.api_key)
        form.addRow("", self.lan)
        form.addRow("", self.cors)

        self.toggle = QPushButton("Start server")
        self.toggle.setObjectName("serverToggle")
        self.toggle.clicked.connect(self._on_toggle)
        self.address = QLabel("Stopped")
        self.address.setObjectName("serverAddress")
        self.copy = QPushButton("Copy address")
        self.copy.setEnabled(False)
        self.copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.url))
        row = QHBoxLayout()
        row.addWidget(self.toggle)
        row.addWidget(self.address, 1)
        row.addWidget(self.copy)
        self.error = QLabel()
        self.error.setObjectName("errorBanner")
        self.error.hide()
        self.log = QTreeWidget()
        self.log.setObjectName("serverLog")
        self.log.setHeaderLabels(LOG_COLUMNS)
        self.log.setRootIsDecorated(False)
        self.log.setWordWrap(True)  # an error is read whole: its row grows, never cut
        self.log.setAlternatingRowColors(True)
        header = self.log.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)  # the spare width goes to the Event column
        header.sectionResized.connect(self._on_section_resized)
        self._long_rows: list[QTreeWidgetItem] = []  # rows whose Event wraps to more lines

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.error)
        layout.addWidget(
            QLabel(
                "Endpoints: /v1/models, /v1/chat/completions, /v1/completions, "
                "/api/v0/models, /api/v0/chat/completions, /api/v0/completions"
            )
        )
        layout.addWidget(self.log, 1)

    @property
    def url(self) -> str:
        return self.server.url if self.server else ""

    @property
    def running(self) -> bool:
        return self.server is not None

    def start(self) -> None:
        if self.server is not None:
            return
        self.error.hide()
        host = "0.0.0.0" if self.lan.isChecked() else "127.0.0.1"
        config = ServerConfig(
            host=host,
            port=self.port.value(),
            api_key=self.api_key.text().strip() or None,
            cors=self.cors.isChecked(),
        )
        try:
            server = LocalServer(config, runtime=self.runtime, on_log=self._bridge.recordArrived.emit)
            server.start()  # serves on its own thread; binding errors are raised here
        except (SpeculaError, OSError) as exc:
            self.error.setText(f"Could not start the server: {getattr(exc, 'strerror', None) or exc}")
            self.error.show()
            return
        self.server = server
        self.address.setText(self.url)
        self.toggle.setText("Stop server")
        self.copy.setEnabled(True)
        for w in (self.port, self.lan, self.api_key, self.cors):
            w.setEnabled(False)
        self.stateChanged.emit(True)

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.stop()  # stops the replies in progress, closes connections, joins its thread
        self.server = None
        self.address.setText("Stopped")
        self.toggle.setText("Start server")
        self.copy.setEnabled(False)
        for w in (self.port, self.lan, self.api_key, self.cors):
            w.setEnabled(True)
        self.stateChanged.emit(False)

    def _on_toggle(self) -> None:
        self.stop() if self.running else self.start()

    def _add_row(self, cells: list[str], tip: str = "", when: float | None = None) -> None:
        item = QTreeWidgetItem([time.strftime("%H:%M:%S", time.localtime(when)), *cells])
        for c in range(3, len(LOG_COLUMNS)):
            item.setTextAlignment(c, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if tip:
            item.setToolTip(1, tip)
        self.log.addTopLevelItem(item)
        if self.log.fontMetrics().horizontalAdvance(item.text(1)) > 200:
            self._long_rows.append(item)
            self._fit_row(item)
        while self.log.topLevelItemCount() > MAX_LOG_ROWS:
            gone = self.log.takeTopLevelItem(0)
            if gone in self._long_rows:
                self._long_rows.remove(gone)
        self.log.scrollToItem(item)

    def _fit_row(self, item: QTreeWidgetItem) -> None:
        """A long event (an error) is read whole: its row is as tall as its wrapped text."""
        width = max(80, self.log.header().sectionSize(1) - 12)
        rect = self.log.fontMetrics().boundingRect(
            QRect(0, 0, width, 0), Qt.TextFlag.TextWordWrap, item.text(1)
        )
        item.setSizeHint(1, QSize(width, rect.height() + 6))

    def _on_section_resized(self, index: int, _old: int, _new: int) -> None:
        if index == 1:
            for item in self._long_rows:
                self._fit_row(item)

    def _on_log_record(self, record: RequestRecord | ServerNote) -> None:
        if isinstance(record, ServerNote):  # its time goes in the Time column only
            self._add_row([record.message], tip=record.message, when=record.time)
            return
        event = f"{record.method} {record.path} {record.status}"
        if record.error:
            event += f": {record.error}"
        self._add_row(
            [
                event,
                record.model or "",
                "" if record.tokens is None else str(record.tokens),
                "" if record.tokens_per_second is None else f"{record.tokens_per_second:.1f}",
                acceptance_cell(record),
            ],
            tip=str(record),
            when=record.time,
        )

    def log_text(self) -> str:
        """Every row as a line of text (tests, copying)."""
        rows = []
        for i in range(self.log.topLevelItemCount()):
            item = self.log.topLevelItem(i)
            if item is not None:
                rows.append("  ".join(item.text(c) for c in range(len(LOG_COLUMNS)) if item.text(c)))
        return "\n".join(rows)
