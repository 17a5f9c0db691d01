"""What text a vocabulary's tokens stand for, so two tokenizers can be compared.

Vocabularies spell the same text differently: SentencePiece writes a space as "\u2581" and a
byte as "<0xNN>", byte-level BPE (GPT-2 style) maps every byte to a printable character
("\u0120" for a space). Normalised to the bytes they produce, two vocabularies of different
families can be compared; the share of the draft's token texts the main model also has is
what the "drafts through translation" verdict reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

SPM_SPACE = "\u2581".encode()


@lru_cache(maxsize=1)
def byte_level_decoder() -> dict[str, int]:
    """GPT-2's printable-character -> byte table (byte-level BPE vocabularies)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), 256)]
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars, strict=True)}


def _is_byte_token(raw: bytes) -> bool:
    return len(raw) == 6 and raw.startswith(b"<0x") and raw.endswith(b">")


def token_text(raw: bytes, vocab_type: str | None) -> bytes:
    """The bytes a token stands for (special tokens such as "<s>" stay as they are written)."""
    if _is_byte_token(raw):
        try:
            return bytes([int(raw[3:5], 16)])
        except ValueError:
            return raw
    if vocab_type in ("gpt2", "BPE") and SPM_SPACE not in raw:
        table = byte_level_decoder()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw
        if text and all(c in table for c in text):
            return bytes(table[c] for c in text)
        return raw
    return raw.replace(SPM_SPACE, b" ")


def shared_share(
    main_tokens: Sequence[bytes], main_type: str | None, draft_tokens: Sequence[bytes], draft_type: str | None
) -> float:
    """The share of the draft's distinct token texts that are main-model token texts too."""
    main_texts = {token_text(t, main_type) for t in main_tokens if t}
    draft_texts = {token_text(t, draft_type) for t in draft_tokens if t}
    if not draft_texts:
        return 0.0
    return len(draft_texts & main_texts) / len(draft_texts)
