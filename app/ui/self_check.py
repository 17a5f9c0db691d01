"""Qt's part of `specula --self-test`: the packaged app's Qt libraries load and start."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication


def qt_platform() -> str:
    """Start Qt offscreen (unless an application is running) and name its platform plugin."""
    if QApplication.instance() is None:
        QApplication(["specula", "-platform", "offscreen"])
    return QGuiApplication.platformName()
