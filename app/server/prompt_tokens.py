"""How many tokens a request's prompt is on a model, without generating anything.

Anthropic's count_tokens and the usage a stream announces before its first token need the
prompt's size. It must be the size the model will read: the model's own `prompt_tokens`
(its chat template or built-in one, BOS as that template decides, message text never read
as control tokens) is what `generate` reads too, so the two cannot drift. A stream's usage is
the prompt after the Context Overflow policy left turns out (app/engines/context_fit.py),
as `generate` fits it.
"""

from __future__ import annotations

from typing import Protocol

from app.core.errors import ContextOverflowError
from app.core.request import GenerationRequest
from app.engines.context_fit import PromptModel, fit_prompt


class PromptReader(Protocol):
    def prompt_tokens(self, request: GenerationRequest) -> list[int]: ...


def prompt_token_count(model: PromptReader, request: GenerationRequest) -> int:
    """The tokens `model` would read for `request` (however long: a prompt over the context
    is counted too). A template that fails raises as it would for a reply."""
    return max(1, len(model.prompt_tokens(request)))  # an empty prompt is read as one BOS token


def fitted_prompt_token_count(model: PromptModel, request: GenerationRequest) -> int:
    """The tokens `model` will read for `request` once it is fitted to the context (a prompt
    that cannot fit is counted whole: generating it fails with the reason)."""
    try:
        return max(1, len(fit_prompt(model, request).tokens))
    except ContextOverflowError:
        return prompt_token_count(model, request)
