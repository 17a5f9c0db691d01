"""Text <-> tokens for one model, exactly: what drafting through translation stands on.

A tokenizer is not a clean inverse of its pieces: SentencePiece vocabularies may put a space
before the text ("add space prefix"), merges differ at the edges of a text, and byte-fallback
tokens can end in the middle of a UTF-8 character. `TokenCodec.encode` returns tokens whose
pieces join to exactly the bytes asked for, or None; `TokenCodec.continuation` tokenizes new
text after tokens already fixed by re-tokenizing a short tail with it and keeping only what
follows the seam (the tokens a model would most likely have produced itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

SEAM_TOKENS = 4  # tokens of the fixed text re-tokenized with the new text


def utf8_complete(data: bytes) -> bool:
    """Whether `data` ends on a character boundary (its last character is whole)."""
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b & 0xC0 == 0x80:  # continuation byte: look further back for the lead byte
            continue
        if b < 0x80:
            return back == 1
        need = 2 if b & 0xE0 == 0xC0 else 3 if b & 0xF0 == 0xE0 else 4 if b & 0xF8 == 0xF0 else 1
        return back >= need
    return not data  # only continuation bytes: not a boundary (unless empty)


def whole_chars(data: bytes) -> bytes:
    """The longest prefix of `data` that ends on a character boundary."""
    for cut in range(len(data), max(-1, len(data) - 4), -1):
        if utf8_complete(data[:cut]):
            return data[:cut]
    return b""


class Tokenizer(Protocol):
    """What a loaded model (llama.cpp or MLX) offers for text."""

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]: ...
    def piece(self, token: int) -> bytes: ...
    def text_piece(self, token: int) -> bytes: ...


class TokenCodec:
    """One model's tokenizer, used for exact text round trips (llama.cpp and MLX models)."""

    def __init__(self, model: Tokenizer) -> None:
        self.model = model
        self._plain: dict[int, bytes] = {}
        self._text: dict[int, bytes] = {}
        self.bos = self.tokenize("", add_special=True, specials=False)
        probe = self.tokenize("a", add_special=False, specials=False)
        self.adds_space = self.join(probe) == b" a"

    # --- pieces -----------------------------------------------------------------------------
    def piece(self, token: int) -> bytes:
        """The token's text; b"" for control tokens."""
        hit = self._plain.get(token)
        if hit is None:
            hit = self._plain[token] = bytes(self.model.piece(token))
        return hit

    def text_piece(self, token: int) -> bytes:
        """The token's text with control tokens written out ("<start_of_turn>")."""
        hit = self._text.get(token)
        if hit is None:
            hit = self._text[token] = bytes(self.model.text_piece(token))
        return hit

    def is_plain(self, token: int) -> bool:
        """A token that stands for text (not a control token)."""
        text = self.piece(token)
        return bool(text) and text == self.text_piece(token)

    def join(self, tokens: Sequence[int], specials: bool = False) -> bytes:
        render = self.text_piece if specials else self.piece
        return b"".join(render(t) for t in tokens)

    # --- text -> tokens -----------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool, specials: bool) -> list[int]:
        return list(self.model.tokenize(text, add_special=add_special, parse_special=specials))

    def encode(self, data: bytes, specials: bool = False) -> list[int] | None:
        """Tokens whose pieces join to exactly `data` (whole UTF-8 characters), or None.
        `specials`: control-token texts in `data` become control tokens."""
        if not data:
            return []
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        strip = self.adds_space and text.startswith(" ") and not specials
        tokens = self.tokenize(text[1:] if strip else text, add_special=False, specials=specials)
        joined = self.join(tokens, specials)
        if joined == data:
            return tokens
        if self.adds_space and tokens and joined == b" " + data and self.piece(tokens[0]) == b" ":
            return tokens[1:]
        return None

    def continuation(self, fixed: Sequence[int], data: bytes) -> list[int] | None:
        """Tokens for `data` following the tokens `fixed`: up to SEAM_TOKENS plain tokens of
        `fixed` are re-tokenized together with `data`, and only the tokens after them kept
        (None when no token boundary falls at the seam and `data` alone cannot be encoded)."""
        tail = self.seam_tail(fixed)
        if tail:
            head = self.join(fixed[len(fixed) - tail :])
            both = self.encode(head + data)
            if both is not None:
                at = 0
                for i, token in enumerate(both):
                    if at == len(head):
                        return both[i:]
                    if at > len(head):
                        break
                    at += len(self.piece(token))
        return self.encode(data)

    def seam_tail(self, tokens: Sequence[int]) -> int:
        """How many of the last tokens to re-tokenize: plain tokens whose text starts on a
        character boundary, at most SEAM_TOKENS."""
        best = 0
        for n in range(1, min(SEAM_TOKENS, len(tokens)) + 1):
            token = tokens[-n]
            if not self.is_plain(token):
                break
            first = self.piece(token)[0]
            if first & 0xC0 != 0x80:
                best = n
        return best
