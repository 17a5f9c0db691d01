"""Can model B draft for model A? Answered with a reason a person can act on.

GGUF pairs follow llama.cpp's rules: same tokenizer type; same add-BOS and add-EOS flags; the
same BOS and EOS ids; vocabulary sizes within 128 of each other; the same text for every
token id from 5 up to the smaller vocabulary. MLX pairs are held to more than LM Studio's
size-only check: the same token -> id map and the same special tokens. Everything is read
from headers and tokenizer files; equal fingerprints skip the token-by-token comparison.

These rules live in the library, next to the compatibility index that caches their verdicts;
the engines import them for their own last-line guard (never the other way round).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.library.entry import LLAMA_CPP, MLX
from app.library.gguf_meta import VOCAB_CHECK_START, read_gguf
from app.library.vocab import VocabSummary

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


def _flags_and_ids(main: VocabSummary, draft: VocabSummary) -> DraftCompatibility | None:
    if main.vocab_type != draft.vocab_type:
        return DraftCompatibility(
            False, f"tokenizer type differs: main uses {main.vocab_type!r}, draft uses {draft.vocab_type!r}"
        )
    for which, m_add, d_add, m_id, d_id in (
        ("BOS", main.add_bos, draft.add_bos, main.bos_id, draft.bos_id),
        ("EOS", main.add_eos, draft.add_eos, main.eos_id, draft.eos_id),
    ):
        if m_add != d_add:
            return DraftCompatibility(False, f"add-{which} flag differs: main {m_add}, draft {d_add}")
        if m_id != d_id:
            return DraftCompatibility(
                False, f"{which} token differs: main uses id {m_id}, draft uses id {d_id}"
            )
    return None


def check_vocab_pair(main: VocabSummary, draft: VocabSummary, exact_size: bool = False) -> DraftCompatibility:
    """Compare two vocabularies. `exact_size` (MLX) also requires the same size."""
    verdict = _flags_and_ids(main, draft)
    if verdict is not None:
        return verdict
    diff = abs(main.n_vocab - draft.n_vocab)
    limit = 0 if exact_size else MAX_VOCAB_SIZE_DIFFERENCE
    if diff > limit:
        allowed = "they must be equal" if exact_size else f"at most {limit} allowed"
        return DraftCompatibility(
            False,
            f"vocabulary sizes differ by {diff} (main {main.n_vocab}, draft {draft.n_vocab}; {allowed})",
        )
    if main.n_vocab == draft.n_vocab and main.fingerprint == draft.fingerprint:
        return COMPATIBLE
    main_tokens, draft_tokens = main.tokens(), draft.tokens()
    start = 0 if exact_size else VOCAB_CHECK_START
    shared = min(len(main_tokens), len(draft_tokens))
    if main_tokens[start:shared] == draft_tokens[start:shared]:
        shared = start  # identical where it matters: skip the search below
    for i in range(start, shared):
        if main_tokens[i] != draft_tokens[i]:
            return DraftCompatibility(
                False,
                f'vocabulary differs at token {i}: "{_show(main_tokens[i])}" vs "{_show(draft_tokens[i])}"',
            )
    if exact_size and main.fingerprint != draft.fingerprint:
        return DraftCompatibility(False, "vocabularies differ (same tokens, different special tokens)")
    return COMPATIBLE


def engine_of(path: str | Path) -> str:
    """'llama.cpp' for a GGUF file, 'MLX' for a model folder."""
    return MLX if Path(path).is_dir() else LLAMA_CPP


def engine_mismatch(main_engine: str, draft_engine: str) -> DraftCompatibility | None:
    if main_engine == draft_engine:
        return None
    return DraftCompatibility(
        False,
        f"the draft is an {draft_engine} model but the main model runs on {main_engine}; "
        "a draft must use the same engine as the main model",
    )


def check_draft(main_path: str | Path, draft_path: str | Path) -> DraftCompatibility:
    """Compatibility of two model paths, read from their headers (uncached: callers with a
    library ask the CompatibilityIndex instead)."""
    main_engine, draft_engine = engine_of(main_path), engine_of(draft_path)
    mismatch = engine_mismatch(main_engine, draft_engine)
    if mismatch is not None:
        return mismatch
    if main_engine == MLX:
        from app.library.mlx_meta import read_mlx_folder

        return check_vocab_pair(
            read_mlx_folder(Path(main_path)).vocab, read_mlx_folder(Path(draft_path)).vocab, exact_size=True
        )
    main, draft = read_gguf(main_path), read_gguf(draft_path)
    for which, info in (("main model", main), ("draft", draft)):
        if info.is_projector:
            return DraftCompatibility(
                False, f"the {which} is a vision projector (mmproj), not a language model"
            )
    return check_vocab_pair(main.vocab, draft.vocab)
