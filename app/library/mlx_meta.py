"""Reads an MLX model folder's metadata without loading weights: config.json, the safetensors
headers (shapes only, with a check that the data is all there) and the tokenizer files."""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import ModelFileError
from app.library.vocab import VocabSummary

_MAX_HEADER = 100 * 1024 * 1024


@dataclass
class MLXInfo:
    path: Path
    config: dict[str, Any]
    parameter_count: int
    file_size: int
    vocab: VocabSummary

    @property
    def architecture(self) -> str:
        return str(self.config.get("model_type", "unknown"))

    @property
    def context_length(self) -> int | None:
        value = self.config.get("max_position_embeddings")
        return int(value) if isinstance(value, int) else None

    @property
    def quantization(self) -> str | None:
        q = self.config.get("quantization") or self.config.get("quantization_config")
        if isinstance(q, dict) and "bits" in q:
            return f"{q['bits']}bit"
        return str(self.config.get("torch_dtype") or "") or None

    @property
    def name(self) -> str:
        return self.path.name


def is_mlx_folder(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))


def _safetensors_params(path: Path, bits: int | None) -> int:
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path.name}: not a safetensors file (too short)")
        (n,) = struct.unpack("<Q", head)
        if n > _MAX_HEADER or 8 + n > size:
            raise ModelFileError(f"{path.name}: corrupt safetensors header")
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            raise ModelFileError(f"{path.name}: corrupt safetensors header") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name}: corrupt safetensors header")
    total, end = 0, 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        try:
            count = 1
            for d in meta["shape"]:
                count *= int(d)
            end = max(end, int(meta["data_offsets"][1]))
        except (KeyError, TypeError, ValueError, IndexError):
            raise ModelFileError(f"{path.name}: corrupt tensor entry {name!r}") from None
        if name.endswith((".scales", ".biases")):
            continue
        if bits and meta.get("dtype") == "U32":
            count = count * 32 // bits  # packed quantized weights
        total += count
    if 8 + n + end > size:
        raise ModelFileError(f"{path.name}: file is truncated ({8 + n + end - size} bytes missing)")
    return total


def _special(config: dict[str, Any], key: str) -> str | None:
    value = config.get(key)
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def read_tokenizer_vocab(folder: Path) -> VocabSummary:
    tok_path = folder / "tokenizer.json"
    try:
        data = json.loads(tok_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{folder.name}: tokenizer.json is missing") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{folder.name}: tokenizer.json is unreadable ({exc})") from None
    model = data.get("model") or {}
    raw_vocab = model.get("vocab") or {}
    id_to_token: dict[int, str] = {}
    if isinstance(raw_vocab, dict):
        id_to_token = {int(i): str(t) for t, i in raw_vocab.items()}
    elif isinstance(raw_vocab, list):  # Unigram: [[token, score], ...]
        id_to_token = {i: str(entry[0]) for i, entry in enumerate(raw_vocab)}
    for added in data.get("added_tokens") or []:
        id_to_token[int(added["id"])] = str(added["content"])
    n_vocab = max(id_to_token) + 1 if id_to_token else 0
    tokens = [id_to_token.get(i, "").encode("utf-8") for i in range(n_vocab)]
    try:
        tok_cfg = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tok_cfg = {}
    token_to_id = {t: i for i, t in id_to_token.items()}
    bos, eos = _special(tok_cfg, "bos_token"), _special(tok_cfg, "eos_token")
    digest = hashlib.sha256()
    for t in tokens:
        digest.update(len(t).to_bytes(4, "little") + t)
    digest.update(f"|bos={bos}|eos={eos}".encode())
    return VocabSummary(
        str(model.get("type") or "unknown"),
        n_vocab,
        digest.hexdigest()[:32],
        bool(tok_cfg.get("add_bos_token", False)),
        bool(tok_cfg.get("add_eos_token", False)),
        token_to_id.get(bos) if bos else None,
        token_to_id.get(eos) if eos else None,
        lambda: tokens,
    )


def read_mlx_folder(folder: Path) -> MLXInfo:
    if not folder.is_dir():
        raise ModelFileError(f"MLX model folder not found: {folder}")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{folder.name}: config.json is missing (not an MLX model folder)") from None
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{folder.name}: config.json is unreadable ({exc})") from None
    if not isinstance(config, dict):
        raise ModelFileError(f"{folder.name}: config.json is not an object")
    shards = sorted(folder.glob("*.safetensors"))
    if not shards:
        raise ModelFileError(f"{folder.name}: no .safetensors weights")
    q = config.get("quantization")
    bits = int(q["bits"]) if isinstance(q, dict) and "bits" in q else None
    params = sum(_safetensors_params(p, bits) for p in shards)
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    return MLXInfo(folder, config, params, size, read_tokenizer_vocab(folder))
