"""One model in the library, as the model picker, the draft dropdown and My Models show it."""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app.library.gguf_meta import read_tokens
from app.library.vocab import VocabSummary

LLAMA_CPP, MLX, REMOTE = "llama.cpp", "MLX", "remote"


@dataclass(frozen=True)
class RemoteInfo:
    """Where a model served by another machine lives: the server (by the name the user gave
    it), its address, the model's id there, what kind of server it is (what it reports of
    speculation depends on it) and whether it answered the last time it was asked."""

    server: str
    url: str  # the server's base address, without /v1
    model_id: str
    kind: str  # a ServerKind value (app/library/server_listing.py)
    online: bool = True
    detail: str = ""  # why it is offline ("" when it answered)
    has_key: bool = False  # requests carry the server's API key (kept in the system keyring)
    context: int = 0  # the context length the server reports (0: it does not say)

    @classmethod
    def from_json(cls, data: Any) -> RemoteInfo:
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in ("server", "url", "model_id", "kind")
        ):
            raise ValueError("a remote model's server, url, model id and kind must be text")
        return cls(
            data["server"],
            data["url"],
            data["model_id"],
            data["kind"],
            bool(data.get("online", True)),
            str(data.get("detail", "")),
            data.get("has_key") is True,
            data["context"] if isinstance(data.get("context"), int) else 0,
        )


@dataclass
class ModelEntry:
    key: str  # stable: publisher/repo/file
    name: str
    engine: str
    architecture: str
    parameter_count: int
    quantization: str | None
    size_bytes: int
    context_length: int | None
    path: str  # file (GGUF, first part if split) or folder (MLX)
    vocab_json: dict[str, Any]
    tokens_offset: int | None = None
    parts: list[str] = field(default_factory=list)
    source: str = ""  # which folder it was found in (a server's name, for a remote model)
    remote: RemoteInfo | None = None  # a model served by another machine (engine REMOTE)

    @property
    def is_remote(self) -> bool:
        return self.remote is not None

    @property
    def vocab_fingerprint(self) -> str | None:
        return self.vocab_json.get("fingerprint")

    @property
    def vocab(self) -> VocabSummary:
        if self.engine == MLX:
            from app.library.mlx_meta import read_tokenizer_vocab

            folder = Path(self.path)
            return VocabSummary.from_json(self.vocab_json, lambda: read_tokenizer_vocab(folder).tokens())
        path, offset, n = Path(self.path), self.tokens_offset, int(self.vocab_json.get("n_vocab", 0))
        return VocabSummary.from_json(self.vocab_json, lambda: read_tokens(path, offset, n))

    @property
    def params_label(self) -> str:
        n = self.parameter_count
        if not n and self.is_remote:
            return ""  # a server does not say
        for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= div:
                return f"{n / div:.3g}{unit}"
        return str(n)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ModelEntry:
        """The entry saved by to_json; ValueError for anything of another shape (a cache
        written by another version, a damaged file)."""
        if not isinstance(data, dict):
            raise ValueError("a model entry must be an object")
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        if extra := set(data) - names:
            raise ValueError(f"unknown fields {sorted(extra)}")
        if missing := required - set(data):
            raise ValueError(f"missing fields {sorted(missing)}")
        for name, kinds in _FIELD_TYPES.items():
            if name in data and not _is(data[name], kinds):
                raise ValueError(f"field {name} has the wrong type")
        if not all(isinstance(p, str) for p in data.get("parts", [])):
            raise ValueError("field parts has the wrong type")
        if data.get("remote") is not None:
            data = {**data, "remote": RemoteInfo.from_json(data["remote"])}
        for name, kinds in _VOCAB_TYPES.items():
            if not _is(data["vocab_json"].get(name), kinds):
                raise ValueError(f"vocabulary field {name} has the wrong type")
        return cls(**data)


def _is(value: Any, kinds: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds) or (value is None and type(None) in kinds)


_NONE = type(None)
_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "key": (str,),
    "name": (str,),
    "engine": (str,),
    "architecture": (str,),
    "parameter_count": (int,),
    "quantization": (str, _NONE),
    "size_bytes": (int,),
    "context_length": (int, _NONE),
    "path": (str,),
    "vocab_json": (dict,),
    "tokens_offset": (int, _NONE),
    "parts": (list,),
    "source": (str,),
    "remote": (dict, _NONE),
}
_VOCAB_TYPES: dict[str, tuple[type, ...]] = {
    "vocab_type": (str, _NONE),
    "n_vocab": (int,),
    "fingerprint": (str, _NONE),
    "add_bos": (bool,),
    "add_eos": (bool,),
    "bos_id": (int, _NONE),
    "eos_id": (int, _NONE),
}


@dataclass(frozen=True)
class ScanProblem:
    path: str
    reason: str
