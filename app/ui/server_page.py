"""Local Server page: start/stop the OpenAI-compatible server inside the app, which shares the
chat's loaded models, with the address to copy and a live log of requests."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import SpeculaError
from app.runtime import ModelRuntime
from app.server.http_server import SpeculaServer


class _LogBridge(QObject):
    """Carries log lines from the server's threads to the GUI thread (queued signal)."""

    line = Signal(str)


class ServerPage(QWidget):
    stateChanged = Signal(bool)

    def __init__(self, runtime: ModelRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.server: SpeculaServer | None = None
        self._thread: threading.Thread | None = None
        self._bridge = _LogBridge()
        self._bridge.line.connect(self._on_log_line)

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
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText("Requests appear here")

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

    def _on_log_line(self, line: str) -> None:
        self.log.appendPlainText(line)
