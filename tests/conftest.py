"""Shared test set-up: every user folder in a tmp dir, Qt offscreen, generated models."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import pytest

from app.library.atomic import clear_file_warnings
from app.library.paths import models_dir as library_dir
from tests.model_factory import tiny_vocab, write_tiny_gguf
from tests.tiny_disk import TinyDisk, mounted

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_DIR_FUNCS = ("user_data_dir", "user_config_dir", "user_cache_dir", "user_log_dir", "user_state_dir")


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every platformdirs folder (and XDG, for child processes) at a tmp dir."""
    root = tmp_path / "user"
    for func in _DIR_FUNCS:
        kind = func.removeprefix("user_").removesuffix("_dir")

        def fake(appname: str | None = None, *args: object, _kind: str = kind, **kwargs: object) -> str:
            return str(root / _kind / (appname or ""))

        monkeypatch.setattr(platformdirs, func, fake)
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
        ("HOME", "home"),
        ("HF_HOME", "hf"),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(root / sub))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    clear_file_warnings()  # warnings about our own files are per process: start each test clean
    yield root
    clear_file_warnings()


def threads_left() -> list[str]:
    """The QThreads (a window's engine thread, background tasks) still running."""
    tasks = sys.modules.get("app.ui.tasks")  # loaded by anything that can start one
    return [t.objectName() or repr(t) for t in tasks.running_threads()] if tasks is not None else []


@pytest.fixture(autouse=True)
def no_thread_left_running() -> Iterator[None]:
    """Every test that opens a window or starts a background task must stop its threads:
    checked after the test's own fixtures (qtbot closes its windows) are done."""
    yield
    left = threads_left()
    assert not left, f"threads still running after the test: {left}"


# --- tiny models (session-wide: a few hundred KB each) -------------------------------------
VOCAB = tiny_vocab()
N = len(VOCAB)


def cycle_successor(t: int) -> int:
    """Greedy path of the 'cycle' models: through every non-special token in order."""
    return 3 + ((t - 3 + 1) % (N - 3)) if t >= 3 else 3


def draft_successor(t: int) -> int:
    """Like cycle_successor but wrong after every token id divisible by 7."""
    return cycle_successor(cycle_successor(t)) if t % 7 == 0 else cycle_successor(t)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny-models")


@pytest.fixture(scope="session")
def tiny_main(models_dir: Path) -> Path:
    return write_tiny_gguf(models_dir / "tiny-main.gguf", seed=0)


@pytest.fixture(scope="session")
def tiny_twin(models_dir: Path) -> Path:
    """Same weights as tiny_main: every greedy draft token is accepted."""
    return write_tiny_gguf(models_dir / "tiny-twin.gguf", seed=0)


@pytest.fixture(scope="session")
def tiny_noisy(models_dir: Path) -> Path:
    """tiny_main with noise on every weight: agrees often, not always."""
    return write_tiny_gguf(models_dir / "tiny-noisy.gguf", seed=0, noise=0.6)


@pytest.fixture
def library_models(tiny_main: Path, tiny_noisy: Path, tiny_twin: Path) -> dict[str, str]:
    """A library with a main model, two compatible drafts and one with another vocabulary."""
    folder = library_dir() / "test" / "tiny"
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


@pytest.fixture(scope="session")
def cycle_main(models_dir: Path) -> Path:
    return write_tiny_gguf(models_dir / "cycle-main.gguf", seed=3, successor=cycle_successor)


@pytest.fixture(scope="session")
def cycle_draft(models_dir: Path) -> Path:
    return write_tiny_gguf(models_dir / "cycle-draft.gguf", seed=3, successor=draft_successor)


@pytest.fixture(scope="session")
def cycle_twin(models_dir: Path) -> Path:
    return write_tiny_gguf(models_dir / "cycle-twin.gguf", seed=3, successor=cycle_successor)


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[TinyDisk]:
    """A 4 MB disk (tmpfs) the test fills and frees; skipped where none can be mounted."""
    with mounted(tmp_path / "tiny-disk") as disk:
        yield disk
