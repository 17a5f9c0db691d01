from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def shared_folder() -> Iterator[Callable[[str, int], Path]]:
    """Folders another user can reach (pytest's tmp folders are private to their owner)."""
    top = Path(tempfile.mkdtemp(prefix="specula-shared-"))
    os.chmod(top, 0o711)

    def make(name: str, mode: int) -> Path:
        folder = top / name
        folder.mkdir()
        os.chmod(folder, mode)
        return folder

    yield make
    for folder in top.iterdir():
        os.chmod(folder, 0o755)
    shutil.rmtree(top, ignore_errors=True)
