"""Can model B draft for model A? Answered with a reason a person can act on.

GGUF pairs follow llama.cpp's rules: same tokenizer type; same add-BOS and add-EOS flags; the
same BOS and EOS ids; vocabulary sizes within 128 of each other; the same text for every
token id from 5 up to the smaller vocabulary. MLX pairs are held to more than LM Studio's
size-only check: the same token -> id map and the same special tokens. Everything is read
from headers and tokenizer files; equal fingerprints skip the token-by-token comparison.

A pair that fails those rules but runs on one engine still drafts "through translation"
(app/engines/translated_draft.py): the draft's text is re-tokenized for the main model, which
verifies it as usual, so the reply is still exactly the main model's. That third verdict
carries the share of the draft's token texts the main model also has. Only what translation
cannot fix stays refused: another engine, a vision projector, a model without a vocabulary.

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
    """`compatible`: the exact rules hold (token ids shared). `translated`: they do not, but
    the draft works through translation (`share`: of its token texts the main model has)."""

    compatible: bool
    reason: str = ""
    translated: bool = False
    share: float | None = None

    def __bool__(self) -> bool:
        return self.compatible

    @property
    def usable(self) -> bool:
        """Can draft at all: exactly or through translation."""
        return self.compatible or self.translated

    @property
    def verdict(self) -> str:
        """ "compatible", "translated" or "incompatible" (the CLI's and the API's word)."""
        return "compatible" if self.compatible else "translated" if self.translated else "incompatible"


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


def translation_verdict(
    main: VocabSummary, draft: VocabSummary, exact: DraftCompatibility
) -> DraftCompatibility:
    """A pair refused by the exact rules (`exact`), judged for drafting through translation:
    any two vocabularies that hold text can translate; the share of shared texts is reported."""
    if exact.compatible:
        return exact
    if main.n_vocab <= 0 or draft.n_vocab <= 0:
        return DraftCompatibility(False, f"{exact.reason}; a model without a vocabulary cannot translate")
    from app.library.token_texts import shared_share

    share = shared_share(main.tokens(), main.vocab_type, draft.tokens(), draft.vocab_type)
    return DraftCompatibility(
        False,
        f"drafts through translation: another tokenizer ({exact.reason}); "
        f"{share:.0%} of its token texts are the main model's too",
        translated=True,
        share=round(share, 4),
    )


def check_pair_translating(
    main: VocabSummary, draft: VocabSummary, exact_size: bool = False
) -> DraftCompatibility:
    """The exact verdict, or failing it, the verdict for drafting through translation."""
    return translation_verdict(main, draft, check_vocab_pair(main, draft, exact_size))


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


def check_draft(main_path: str | Path, draft_path: str | Path, translate: bool = False) -> DraftCompatibility:
    """Compatibility of two model paths, read from their headers (uncached: callers with a
    library ask the CompatibilityIndex instead); `translate`: a pair the exact rules refuse may
    still draft through translation (the third verdict)."""
    main_engine, draft_engine = engine_of(main_path), engine_of(draft_path)
    mismatch = engine_mismatch(main_engine, draft_engine)
    if mismatch is not None:
        return mismatch
    if main_engine == MLX:
        from app.library.mlx_meta import read_mlx_folder

        main_vocab = read_mlx_folder(Path(main_path)).vocab
        draft_vocab = read_mlx_folder(Path(draft_path)).vocab
        exact = check_vocab_pair(main_vocab, draft_vocab, exact_size=True)
        return translation_verdict(main_vocab, draft_vocab, exact) if translate else exact
    main, draft = read_gguf(main_path), read_gguf(draft_path)
    for which, info in (("main model", main), ("draft", draft)):
        if info.is_projector:
            return DraftCompatibility(
                False, f"the {which} is a vision projector (mmproj), not a language model"
            )
    exact = check_vocab_pair(main.vocab, draft.vocab)
    return translation_verdict(main.vocab, draft.vocab, exact) if translate else exact
