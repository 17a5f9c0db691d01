"""Can model B draft for model A? llama.cpp's rules, answered with a reason a person can act on.

The rules (as llama.cpp's speculative example checks them): same tokenizer type; same add-BOS
and add-EOS flags; the same BOS and EOS ids; vocabulary sizes within 128 of each other; the
same text for every token id from 5 up to the smaller vocabulary's size. Everything is read
from the GGUF headers; equal fingerprints skip the token-by-token comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import EngineUnavailableError
from app.library.gguf_meta import VOCAB_CHECK_START, GGUFInfo, read_gguf

MAX_VOCAB_SIZE_DIFFERENCE = 128


@dataclass(frozen=True)
class DraftCompatibility:
    compatible: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.compatible


COMPATIBLE = DraftCompatibility(True)


def _show(token: bytes) -> str:
    text = token.decode("utf-8", errors="backslashreplace")
    return text if len(text) <= 40 else text[:37] + "..."


def check_gguf_pair(main: GGUFInfo, draft: GGUFInfo) -> DraftCompatibility:
    if draft.is_projector or main.is_projector:
        which = "draft" if draft.is_projector else "main model"
        return DraftCompatibility(False, f"the {which} is a vision projector (mmproj), not a language model")
    if main.vocab_type != draft.vocab_type:
        return DraftCompatibility(
            False,
            f"tokenizer type differs: main uses {main.vocab_type!r}, draft uses {draft.vocab_type!r}",
        )
    for which in ("bos", "eos"):
        if main.adds(which) != draft.adds(which):
            return DraftCompatibility(
                False,
                f"add-{which.upper()} flag differs: main {main.adds(which)}, draft {draft.adds(which)}",
            )
        m_id, d_id = main.special_token(which), draft.special_token(which)
        if m_id != d_id:
            return DraftCompatibility(
                False, f"{which.upper()} token differs: main uses id {m_id}, draft uses id {d_id}"
            )
    diff = abs(main.n_vocab - draft.n_vocab)
    if diff > MAX_VOCAB_SIZE_DIFFERENCE:
        return DraftCompatibility(
            False,
            f"vocabulary sizes differ by {diff} (main {main.n_vocab}, draft {draft.n_vocab}; "
            f"at most {MAX_VOCAB_SIZE_DIFFERENCE} allowed)",
        )
    if main.n_vocab == draft.n_vocab and main.vocab_fingerprint == draft.vocab_fingerprint:
        return COMPATIBLE
    main_tokens, draft_tokens = main.tokens(), draft.tokens()
    for i in range(VOCAB_CHECK_START, min(len(main_tokens), len(draft_tokens))):
        if main_tokens[i] != draft_tokens[i]:
            return DraftCompatibility(
                False,
                f'vocabulary differs at token {i}: "{_show(main_tokens[i])}" vs "{_show(draft_tokens[i])}"',
            )
    return COMPATIBLE


def engine_of(path: str | Path) -> str:
    """'llama.cpp' for a GGUF file, 'MLX' for a model folder."""
    return "MLX" if Path(path).is_dir() else "llama.cpp"


def check_draft(main_path: str | Path, draft_path: str | Path) -> DraftCompatibility:
    """Compatibility of two model paths, including a draft meant for another engine."""
    main_engine, draft_engine = engine_of(main_path), engine_of(draft_path)
    if main_engine != draft_engine:
        return DraftCompatibility(
            False,
            f"the draft is an {draft_engine} model but the main model runs on {main_engine}; "
            "a draft must use the same engine as the main model",
        )
    if main_engine != "llama.cpp":
        raise EngineUnavailableError("MLX models are not supported by this build yet")
    return check_gguf_pair(read_gguf(main_path), read_gguf(draft_path))
