"""Turning what a user typed (`--model`, a request's "model") into a model of the library.

A path wins; the bundled model answers to its own names (and is assembled on first use);
anything else is looked up in the library by key, file name or name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ModelFileError
from app.library.bundled import ProgressCallback, bundled_model_name, ensure_bundled_model
from app.library.library import ModelLibrary
from app.library.paths import safe_resolve

BUNDLED_ALIASES = ("default", "gemma-3-270m", "gemma3-270m")


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    key: str  # the library key, or the path when the model is outside every library folder


def resolve_model(
    spec: str | None, library: ModelLibrary | None = None, progress: ProgressCallback | None = None
) -> ResolvedModel:
    library = library or ModelLibrary()
    if spec is None or spec.lower() in BUNDLED_ALIASES or spec == bundled_model_name():
        path = ensure_bundled_model(progress)
        return ResolvedModel(path, _key_for(library, path))
    path = Path(spec).expanduser()
    if path.exists():
        return ResolvedModel(path, _key_for(library, path))
    if path.is_symlink():
        raise ModelFileError(f"{path} is a broken symbolic link (its target is missing or loops)")
    entry = library.find(spec)
    if entry is not None:
        return ResolvedModel(Path(entry.path), entry.key)
    if path.suffix.lower() == ".gguf" or spec.startswith(("/", "~", ".")):
        raise ModelFileError(f"model file not found: {path}")
    raise ModelFileError(f"no model named {spec!r} in the library (give a path, or see `specula models`)")


def _key_for(library: ModelLibrary, path: Path) -> str:
    resolved = str(safe_resolve(path))
    entry = library.find(resolved)
    return entry.key if entry else resolved
