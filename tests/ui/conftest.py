"""Qt tests: the QApplication exists before each test (the thread check is tests/conftest.py's)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _qt_application(qapp: object) -> None:
    """Widgets made at a test's start (fixtures included) need the application first."""
