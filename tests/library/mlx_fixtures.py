"""Minimal MLX-style model folders (config.json, safetensors, tokenizer files) for library tests."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np


def write_safetensors(path: Path, tensors: dict[str, np.ndarray]) -> None:
    header: dict[str, object] = {}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype=np.float32).tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def write_mlx_folder(folder: Path, vocab: list[str], hidden: int = 8, bos: str = "<s>") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "llama",
                "vocab_size": len(vocab),
                "hidden_size": hidden,
                "max_position_embeddings": 256,
            }
        )
    )
    write_safetensors(
        folder / "model.safetensors", {"model.embed_tokens.weight": np.zeros((len(vocab), hidden))}
    )
    tokenizer = {
        "model": {"type": "WordLevel", "vocab": {t: i for i, t in enumerate(vocab)}},
        "added_tokens": [],
    }
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    (folder / "tokenizer_config.json").write_text(json.dumps({"bos_token": bos, "eos_token": "</s>"}))
    return folder
