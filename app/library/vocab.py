"""What draft compatibility needs to know of a vocabulary, in a few fields that can be cached.

The token texts themselves are read only when two vocabularies of near size have different
fingerprints, to name the first differing token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class VocabSummary:
    vocab_type: str | None
    n_vocab: int
    fingerprint: str | None
    add_bos: bool
    add_eos: bool
    bos_id: int | None
    eos_id: int | None
    # Reads the token texts on demand (not cached to disk, not compared).
    load_tokens: Callable[[], list[bytes]] | None = field(default=None, compare=False, repr=False)

    def tokens(self) -> list[bytes]:
        return self.load_tokens() if self.load_tokens else []

    def to_json(self) -> dict[str, object]:
        return {
            "vocab_type": self.vocab_type,
            "n_vocab": self.n_vocab,
            "fingerprint": self.fingerprint,
            "add_bos": self.add_bos,
            "add_eos": self.add_eos,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
        }

    @classmethod
    def from_json(cls, data: dict, load_tokens: Callable[[], list[bytes]] | None = None) -> VocabSummary:
        return cls(
            data.get("vocab_type"),
            int(data.get("n_vocab", 0)),
            data.get("fingerprint"),
            bool(data.get("add_bos")),
            bool(data.get("add_eos")),
            data.get("bos_id"),
            data.get("eos_id"),
            load_tokens,
        )
