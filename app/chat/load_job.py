"""What the engine thread is asked to load (a model, with the settings applied on load), and
which of those settings differ from the ones the loaded model runs with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadJob:
    """A model for the engine thread to load, with the settings applied on load."""

    path: Path
    key: str
    n_ctx: int
    n_gpu_layers: int


def reload_hint(loaded_with: LoadJob | None, wanted: LoadJob | None) -> str:
    """Says which load settings differ from those the loaded model runs with ("": none)."""
    changed = []
    if loaded_with is not None and wanted is not None:
        if wanted.n_ctx != loaded_with.n_ctx:
            changed.append(f"Context Length {wanted.n_ctx}")
        if wanted.n_gpu_layers != loaded_with.n_gpu_layers:
            changed.append(f"GPU Offload {wanted.n_gpu_layers}")
    verb = "applies" if len(changed) == 1 else "apply"
    return f"{' and '.join(changed)} {verb} when the model loads again." if changed else ""
