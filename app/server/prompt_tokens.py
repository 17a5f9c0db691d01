"""How many tokens a request's prompt is on a model, without generating anything.

Anthropic's count_tokens and the usage a stream announces before its first token need the
prompt's size. It must be the size the model will read: rendered by the model's own chat
template (or its built-in one), with or without BOS as that template decides, on either
engine. Rather than repeat those rules here (and drift from them), the model's own
`generate` prepares the request while a stand-in watches the one text it tokenizes; the
reply it would have produced is never started.
"""

from __future__ import annotations

from typing import Any

from app.core.errors import ContextOverflowError
from app.core.request import GenerationRequest


class _Watching:
    """Stands in for a model while its `generate` prepares a request: everything passes
    through, and the first text it tokenizes (the prompt) is remembered."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.prompt: list[int] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        tokens: list[int] = self._model.tokenize(text, add_special, parse_special)
        if self.prompt is None:
            self.prompt = tokens
        return tokens


def prompt_token_count(model: Any, request: GenerationRequest) -> int:
    """The tokens `model` would read for `request` (however long: a prompt over the context
    is counted too). A template that fails raises as it would for a reply."""
    watching = _Watching(model)
    try:
        stream = type(model).generate(watching, request)
    except ContextOverflowError:
        pass  # counted before it was refused
    else:
        stream.close()  # never started: nothing was read or generated
    if watching.prompt is None:
        raise RuntimeError(f"{type(model).__name__}.generate tokenized no prompt")
    return max(1, len(watching.prompt))  # an empty prompt is read as one BOS token
