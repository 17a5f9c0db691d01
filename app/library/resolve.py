"""Turning what a user typed (`--model`, a request's "model") into a model file.

A path wins; otherwise a name is matched against the models folder by file name, file stem
or folder key (`publisher/repo/file`), case-insensitively; a unique partial match is
accepted. The bundled model answers to its own names and is assembled on first use.
"""

from __future__ import annotations

from pathlib import Path

from app.core.errors import ModelFileError
from app.library.bundled import (
    ProgressCallback,
    bundled_model_name,
    bundled_model_path,
    ensure_bundled_model,
)
from app.library.paths import models_dir

BUNDLED_ALIASES = ("default", "gemma-3-270m", "gemma3-270m")


def _candidates(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*.gguf") if p.is_file() and not p.name.endswith(".part"))


def _key(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def resolve_model(spec: str | None, progress: ProgressCallback | None = None) -> Path:
    """The model file for `spec` (None: the bundled default, assembled on first use)."""
    if spec is None or spec.lower() in BUNDLED_ALIASES or spec == bundled_model_name():
        return ensure_bundled_model(progress)
    path = Path(spec).expanduser()
    if path.exists() or path.suffix == ".gguf" or ("/" in spec and path.is_absolute()):
        if not path.exists():
            raise ModelFileError(f"model file not found: {path}")
        return path
    root = models_dir()
    wanted = spec.lower()
    found = _candidates(root)
    exact = [p for p in found if wanted in (p.name.lower(), p.stem.lower(), _key(p, root).lower())]
    if len(exact) == 1:
        return exact[0]
    partial = exact or [p for p in found if wanted in _key(p, root).lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(_key(p, root) for p in partial[:5])
        raise ModelFileError(f"model name {spec!r} is ambiguous: {names}")
    raise ModelFileError(f"no model named {spec!r} in {root} (give a path to a .gguf file)")


__all__ = ["bundled_model_path", "resolve_model"]
