"""One entry point to load any model file or folder with the engine it needs."""

from __future__ import annotations

from pathlib import Path

from app.engines.llamacpp import LlamaCppModel, LoadOptions
from app.engines.mlx import MLXModel

LoadedModel = LlamaCppModel | MLXModel


def load_any(path: str | Path, options: LoadOptions | None = None) -> LoadedModel:
    """A GGUF file loads on llama.cpp, a model folder on MLX."""
    path = Path(path)
    options = options or LoadOptions()
    if path.is_dir():
        return MLXModel(path, n_ctx=options.n_ctx)
    return LlamaCppModel(path, options)
