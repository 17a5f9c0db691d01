"""One model in the library, as the model picker, the draft dropdown and My Models show it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from app.library.gguf_meta import read_tokens
from app.library.vocab import VocabSummary

LLAMA_CPP, MLX = "llama.cpp", "MLX"


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
    source: str = ""  # which folder it was found in

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
        for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
            if n >= div:
                return f"{n / div:.3g}{unit}"
        return str(n)

    @property
    def label(self) -> str:
        """Name plus what tells two builds of one model apart."""
        return " · ".join(
            x for x in (self.name, self.params_label, self.quantization or "", self.engine) if x
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelEntry:
        return cls(**data)


@dataclass(frozen=True)
class ScanProblem:
    path: str
    reason: str
