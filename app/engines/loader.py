"""One entry point to load any model with the engine it needs: a file or folder on this
computer, or a model on a server (nothing is loaded: the server is asked whether it serves it)."""

from __future__ import annotations

from pathlib import Path

from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.mlx import MLXModel
from app.engines.remote import RemoteModel
from app.library.resolve import ModelRef

LoadedModel = LlamaCppModel | MLXModel | RemoteModel


def load_any(path: str | Path, options: LoadOptions | None = None) -> LoadedModel:
    """A GGUF file loads on llama.cpp, a model folder on MLX."""
    path = Path(path)
    options = options or LoadOptions()
    if path.is_dir():
        return MLXModel(path, n_ctx=options.n_ctx)
    return LlamaCppModel(path, options)


def load_ref(ref: ModelRef, options: LoadOptions | None = None) -> LoadedModel:
    """A model as the resolver named it: on a server (its load settings are the server's), or
    on this computer."""
    if ref.remote is not None:
        return RemoteModel.open(ref.remote)
    return load_any(ref.path, options)
