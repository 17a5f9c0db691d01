"""Reads an MLX model folder's metadata without loading weights: config.json, the safetensors
headers (shapes only, with a check that the data is all there) and the tokenizer files."""

from __future__ import annotations

import hashlib
import json
import re
import stat
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


_LAYER_RE = re.compile(r"(?:^|\.)(?:layers|h|blocks)\.(\d+)\.")


def _safetensors_params(path: Path, bits: int | None, layers: set[int]) -> int:
    """Parameters in one shard (packed quantized weights counted unpacked); adds the indices of
    the transformer layers it holds to `layers`."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(f"{path.name}: not a regular file")
    size = st.st_size
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
        m = _LAYER_RE.search(name)
        if m:
            layers.add(int(m[1]))
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


_MAX_VOCAB = 10_000_000  # a token id past this is a damaged tokenizer, not a big vocabulary


_MAX_JSON = 256 * 1024 * 1024


def _read_json_object(path: Path, folder: Path, missing_ok: bool = False) -> dict[str, Any]:
    """A JSON object from one of the folder's files, or ModelFileError naming the file. Only
    regular files are opened (a FIFO would block forever)."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(f"{folder.name}: {path.name} is not a regular file")
        if st.st_size > _MAX_JSON:
            raise ModelFileError(f"{folder.name}: {path.name} is implausibly large ({st.st_size} bytes)")
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        if missing_ok:
            return {}
        raise ModelFileError(f"{folder.name}: {path.name} is missing") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{folder.name}: {path.name} is unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise ModelFileError(f"{folder.name}: {path.name} is not a JSON object")
    return data


def _token_table(data: dict[str, Any]) -> dict[int, str]:
    """id -> token text from tokenizer.json's model vocabulary and added tokens."""
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise ValueError('"model" is not an object')
    raw_vocab = model.get("vocab") or {}
    id_to_token: dict[int, str] = {}
    if isinstance(raw_vocab, dict):
        id_to_token = {int(i): str(t) for t, i in raw_vocab.items()}
    elif isinstance(raw_vocab, list):  # Unigram: [[token, score], ...]
        id_to_token = {i: str(entry[0]) for i, entry in enumerate(raw_vocab)}
    else:
        raise ValueError('"model.vocab" is neither an object nor a list')
    added_tokens = data.get("added_tokens") or []
    if not isinstance(added_tokens, list):
        raise ValueError('"added_tokens" is not a list')
    for added in added_tokens:
        id_to_token[int(added["id"])] = str(added["content"])
    if id_to_token and not 0 <= min(id_to_token) <= max(id_to_token) < _MAX_VOCAB:
        raise ValueError(f"token ids run from {min(id_to_token)} to {max(id_to_token)}")
    return id_to_token


def read_tokenizer_vocab(folder: Path) -> VocabSummary:
    data = _read_json_object(folder / "tokenizer.json", folder)
    try:
        id_to_token = _token_table(data)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise ModelFileError(f"{folder.name}: tokenizer.json is damaged ({exc})") from None
    model = data.get("model") or {}
    n_vocab = max(id_to_token) + 1 if id_to_token else 0
    tokens = [id_to_token.get(i, "").encode("utf-8") for i in range(n_vocab)]
    try:
        tok_cfg = _read_json_object(folder / "tokenizer_config.json", folder, missing_ok=True)
    except ModelFileError:
        tok_cfg = {}  # optional: without it the BOS/EOS settings take their defaults
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


def quantization_bits(config: dict[str, Any], folder: Path) -> int | None:
    """Bits per quantized weight from config.json, checked: MLX packs 2 to 8."""
    q = config.get("quantization")
    if not isinstance(q, dict) or "bits" not in q:
        return None
    bits = q["bits"]
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 8:
        raise ModelFileError(
            f"{folder.name}: config.json says quantization bits {bits!r}; expected a whole number 1 to 8"
        )
    return bits


def read_mlx_folder(folder: Path) -> MLXInfo:
    if not folder.is_dir():
        raise ModelFileError(f"MLX model folder not found: {folder}")
    if not (folder / "config.json").exists():
        raise ModelFileError(f"{folder.name}: config.json is missing (not an MLX model folder)")
    config = _read_json_object(folder / "config.json", folder)
    check_config(config, folder)
    shards = sorted(p for p in folder.glob("*.safetensors") if _is_regular(p))
    if not shards:
        raise ModelFileError(f"{folder.name}: no .safetensors weights")
    bits = quantization_bits(config, folder)
    layers: set[int] = set()
    params = sum(_safetensors_params(p, bits, layers) for p in shards)
    declared = config.get("num_hidden_layers")
    if layers and isinstance(declared, int) and max(layers) + 1 < declared:
        raise ModelFileError(
            f"{folder.name}: config.json says {declared} layers but the weights hold {max(layers) + 1}"
        )
    size = sum(p.stat().st_size for p in folder.iterdir() if _is_regular(p))
    return MLXInfo(folder, config, params, size, read_tokenizer_vocab(folder))


_MAX_LAYERS = 1024
_MAX_WIDTH = 1 << 20


def check_config(config: dict[str, Any], folder: Path) -> None:
    """Sizes in config.json that a real model can have; anything else is a damaged file (and
    would make the engine build a huge model, or report thousands of missing weights)."""
    limits = {
        "num_hidden_layers": _MAX_LAYERS,
        "hidden_size": _MAX_WIDTH,
        "intermediate_size": 4 * _MAX_WIDTH,
        "num_attention_heads": 4096,
        "num_key_value_heads": 4096,
        "vocab_size": _MAX_VOCAB,
        "max_position_embeddings": 1 << 26,
    }
    for key, limit in limits.items():
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= limit:
            raise ModelFileError(
                f"{folder.name}: config.json says {key} {value!r}; expected a whole number 1 to {limit}"
            )


def _is_regular(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False
