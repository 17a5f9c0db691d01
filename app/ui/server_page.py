"""Local Server page: start/stop the OpenAI-compatible server inside the app, which shares the
chat's loaded models, with the address to copy and a live log: every request, and for every
reply its model, speed and draft acceptance."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, Qt, Signal
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

from app.chat.stats_text import stop_word
from app.core.errors import SpeculaError
from app.core.events import GenerationStats
from app.runtime import ModelRuntime
from app.server.http_server import SpeculaServer

LOG_COLUMNS = ("Time", "Event", "Model", "Tokens", "tok/s", "Draft accepted")
MAX_LOG_ROWS = 2000


class _LogBridge(QObject):
    """Carries log lines and finished replies from the server's threads to the GUI thread."""

    line = Signal(str)
    generation = Signal(str, object)  # model key, GenerationStats


def acceptance_cell(stats: GenerationStats) -> str:
    if not stats.draft_model:
        return "no draft"
    rate = stats.acceptance_rate
    sent = stats.accepted_draft_tokens_count + stats.rejected_draft_tokens_count
    pct = f" ({100 * rate:.0f}%)" if rate is not None else ""
    return f"{stats.accepted_draft_tokens_count}/{sent}{pct}"


class ServerPage(QWidget):
    stateChanged = Signal(bool)

    def __init__(self, runtime: ModelRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.server: SpeculaServer | None = None
        self._thread: threading.Thread | None = None
        self._bridge = _LogBridge()
        self._bridge.line.connect(self._on_log_line)
        self._bridge.generation.connect(self._on_generation)

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
        self.log.setUniformRowHeights(True)
        self.log.setAlternatingRowColors(True)
        header = self.log.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

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
        try:
            self.server = SpeculaServer(
                host,
                self.port.value(),
                runtime=self.runtime,
                api_key=self.api_key.text().strip() or None,
                cors=self.cors.isChecked(),
                on_log=self._bridge.line.emit,
                on_generation=self._bridge.generation.emit,
            )
        except (SpeculaError, OSError) as exc:
            self.error.setText(f"Could not start the server: {getattr(exc, 'strerror', None) or exc}")
            self.error.show()
            return
        self._thread = threading.Thread(target=self.server.serve_forever, name="specula-server", daemon=True)
        self._thread.start()
        self.address.setText(self.url)
        self.toggle.setText("Stop server")
        self.copy.setEnabled(True)
        for w in (self.port, self.lan, self.api_key, self.cors):
            w.setEnabled(False)
        self._on_log_line(f"listening on {self.url}")
        self.stateChanged.emit(True)

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self.server = None
        self._thread = None
        self.address.setText("Stopped")
        self.toggle.setText("Start server")
        self.copy.setEnabled(False)
        for w in (self.port, self.lan, self.api_key, self.cors):
            w.setEnabled(True)
        self._on_log_line("stopped")
        self.stateChanged.emit(False)

    def _on_toggle(self) -> None:
        self.stop() if self.running else self.start()

    def _add_row(self, cells: list[str], tip: str = "") -> None:
        item = QTreeWidgetItem([time.strftime("%H:%M:%S"), *cells])
        for c in range(3, len(LOG_COLUMNS)):
            item.setTextAlignment(c, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if tip:
            item.setToolTip(1, tip)
        self.log.addTopLevelItem(item)
        while self.log.topLevelItemCount() > MAX_LOG_ROWS:
            self.log.takeTopLevelItem(0)
        self.log.scrollToItem(item)

    def _on_log_line(self, line: str) -> None:
        self._add_row([line], tip=line)

    def _on_generation(self, model: str, stats: GenerationStats) -> None:
        self._add_row(
            [
                f"reply: {stop_word(stats.to_dict())}",
                model,
                str(stats.predicted_tokens_count),
                f"{stats.tokens_per_second:.1f}",
                acceptance_cell(stats),
            ],
            tip=f"draft: {stats.draft_model}" if stats.draft_model else "",
        )

    def log_text(self) -> str:
        """Every row as a line of text (tests, copying)."""
        rows = []
        for i in range(self.log.topLevelItemCount()):
            item = self.log.topLevelItem(i)
            if item is not None:
                rows.append("  ".join(item.text(c) for c in range(len(LOG_COLUMNS)) if item.text(c)))
        return "\n".join(rows)
