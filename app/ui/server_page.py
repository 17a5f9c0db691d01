"""Local Server page: start/stop the OpenAI-compatible server inside the app, which shares the
chat's loaded models, with the address to copy and a live log of requests."""

from __future__ import annotations

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
from app.server.config import ServerConfig
from app.server.records import RequestRecord, ServerNote
from app.server.serving import LocalServer


class _LogBridge(QObject):
    """Carries the server's records (RequestRecord, ServerNote) from its threads to the GUI
    thread (queued signal)."""

    record = Signal(object)


class ServerPage(QWidget):
    stateChanged = Signal(bool)

    def __init__(self, runtime: ModelRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.server: LocalServer | None = None
        self._bridge = _LogBridge()
        self._bridge.record.connect(self._on_log_record)

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
        config = ServerConfig(
            host=host,
            port=self.port.value(),
            api_key=self.api_key.text().strip() or None,
            cors=self.cors.isChecked(),
        )
        try:
            server = LocalServer(config, runtime=self.runtime, on_log=self._bridge.record.emit)
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

    def _on_log_record(self, record: RequestRecord | ServerNote) -> None:
        self.log.appendPlainText(str(record))
