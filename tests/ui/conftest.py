from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.library.paths import models_dir
from app.ui.tasks import running_threads
from tests.model_factory import tiny_vocab, write_tiny_gguf


@pytest.fixture(autouse=True)
def no_thread_left_running(qapp: object) -> Iterator[None]:
    yield
    left = running_threads()
    assert not left, f"threads still running after the test: {[t.objectName() or t for t in left]}"


@pytest.fixture
def library_models(tiny_main: Path, tiny_noisy: Path, tiny_twin: Path) -> dict[str, str]:
    """A library with a main model, two compatible drafts and an incompatible one."""
    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_main, folder / "main.gguf")
    shutil.copy(tiny_noisy, folder / "noisy.gguf")
    shutil.copy(tiny_twin, folder / "twin.gguf")
    write_tiny_gguf(folder / "other.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(extra=300))
    return {
        "main": "test/tiny/main.gguf",
        "noisy": "test/tiny/noisy.gguf",
        "twin": "test/tiny/twin.gguf",
        "other": "test/tiny/other.gguf",
    }
