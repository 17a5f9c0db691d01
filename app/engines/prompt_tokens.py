"""Tokenizing a rendered prompt so that message text can never become control tokens.

Both engines' tokenizers read written-out control tokens ("<end_of_turn>", "<bos>") as the
real control ids when special parsing is on, and a chat template's scaffolding needs exactly
that. Tokenizing the whole rendered prompt that way lets a message forge turns; tokenizing
message text on its own (special parsing off) and the scaffolding on its own changes the
tokens where the pieces meet (a merge across the boundary, SentencePiece's leading space).

So this does both and lets the control tokens decide:
- the whole prompt, tokenized as it always was (special parsing on), gives the exact tokens
  the model was trained to read;
- the parts, tokenized safely: each scaffold part with special parsing on only to find its
  control tokens, which split the prompt into runs of plain text; every run (scaffold text
  and message text together, as the tokenizer itself would cut them) is tokenized with
  special parsing off, so text next to a control token meets the same boundary as before;
- if both hold the same control tokens in the same order, no message added one and the
  whole-prompt tokens are used: every prompt without written-out control tokens in its
  messages is tokenized exactly as before. Otherwise the safe tokens are used.

BOS (and EOS where a vocabulary adds one) come from the tokenizer itself: what it adds
around a probe text when asked to add its special tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from app.engines.chat_template import RenderedPrompt


class PromptTokenizer(Protocol):
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]: ...

    def control_text(self, token: int) -> str | None:
        """The written-out text of a control token (one that only special parsing produces);
        None for any other token."""
        ...


def tokenize_prompt(model: PromptTokenizer, prompt: RenderedPrompt) -> list[int]:
    whole = model.tokenize(prompt.text, add_special=prompt.add_special, parse_special=True)
    if all(part.scaffold for part in prompt.parts):
        return whole  # a raw prompt: its author wrote the control tokens
    safe = tokenize_parts(model, prompt)
    if _controls(model, whole) == _controls(model, safe):
        return whole
    return safe


def tokenize_parts(model: PromptTokenizer, prompt: RenderedPrompt) -> list[int]:
    """Control tokens only where the scaffolding writes them; everything between as text."""
    ids: list[int] = []
    run: list[str] = []

    def flush() -> None:
        text = "".join(run)
        run.clear()
        if text:
            ids.extend(model.tokenize(text, add_special=False, parse_special=False))

    for part in prompt.parts:
        if not part.scaffold:
            run.append(part.text)
            continue
        pieces = _split_at_controls(model, part.text)
        if pieces is None:  # a control text not written as such (a normalised token): keep the part whole
            flush()
            ids.extend(model.tokenize(part.text, add_special=False, parse_special=True))
            continue
        for piece in pieces:
            if isinstance(piece, str):
                run.append(piece)
            else:
                flush()
                ids.append(piece)
    flush()
    if not prompt.add_special:
        return ids
    before, after = _added_specials(model)
    return [*before, *ids, *after]


def _split_at_controls(model: PromptTokenizer, text: str) -> list[str | int] | None:
    pieces: list[str | int] = []
    cursor = 0
    for token in model.tokenize(text, add_special=False, parse_special=True):
        written = model.control_text(token)
        if written is None:
            continue
        at = text.find(written, cursor) if written else -1
        if at < 0:
            return None
        pieces += [text[cursor:at], token]
        cursor = at + len(written)
    pieces.append(text[cursor:])
    return pieces


def _added_specials(model: PromptTokenizer) -> tuple[list[int], list[int]]:
    """The tokens the tokenizer adds before and after a text (BOS; EOS in a few vocabularies)."""
    probe = "a"
    bare = model.tokenize(probe, add_special=False, parse_special=False)
    full = model.tokenize(probe, add_special=True, parse_special=False)
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    return [], []


def _controls(model: PromptTokenizer, ids: Sequence[int]) -> list[int]:
    return [t for t in ids if model.control_text(t) is not None]
