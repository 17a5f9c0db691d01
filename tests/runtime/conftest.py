from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore
from app.library.paths import models_dir
from app.runtime import ModelRuntime
from tests.model_factory import tiny_vocab, write_tiny_gguf

MAIN, TWIN, NOISY, OTHER = (
    "test/tiny/main.gguf",
    "test/tiny/twin.gguf",
    "test/tiny/noisy.gguf",
    "test/tiny/other.gguf",
)


@pytest.fixture
def library_folder(tiny_main: Path, tiny_twin: Path, tiny_noisy: Path) -> Path:
    """main, a twin (always accepted), a noisy draft and a model with another vocabulary
    (it drafts through translation)."""
    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_main, folder / "main.gguf")
    shutil.copy(tiny_twin, folder / "twin.gguf")
    shutil.copy(tiny_noisy, folder / "noisy.gguf")
    write_tiny_gguf(folder / "other.gguf", n_embd=16, n_layer=1, tokens=tiny_vocab(extra=300))
    return folder


@pytest.fixture
def runtime(library_folder: Path) -> Iterator[ModelRuntime]:
    rt = ModelRuntime(ModelLibrary(), ModelDefaultsStore())
    yield rt
    rt.close(timeout=30)
