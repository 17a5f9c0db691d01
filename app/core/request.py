"""What a caller asks an engine for: messages or a raw prompt, sampling and draft settings.

Plain frozen dataclasses so the GUI, the CLI and the server can build, copy and compare
requests without touching an engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from app.core.errors import InvalidRequestError


class Role(str, Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str

    @classmethod
    def of(cls, role: str, content: str) -> ChatMessage:
        try:
            return cls(Role(role), content)
        except ValueError:
            raise InvalidRequestError(f"unknown message role {role!r}") from None


@dataclass(frozen=True)
class SamplingSettings:
    """Sampler settings; temperature 0 means greedy (deterministic) decoding."""

    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    seed: int | None = None

    def validate(self) -> None:
        if self.temperature < 0:
            raise InvalidRequestError("temperature must be >= 0")
        if self.top_k < 0:
            raise InvalidRequestError("top_k must be >= 0 (0 disables it)")
        if not 0.0 < self.top_p <= 1.0:
            raise InvalidRequestError("top_p must be in (0, 1]")
        if not 0.0 <= self.min_p <= 1.0:
            raise InvalidRequestError("min_p must be in [0, 1]")
        if self.repeat_penalty <= 0:
            raise InvalidRequestError("repeat_penalty must be > 0")


@dataclass(frozen=True)
class DraftSettings:
    """How the draft model proposes tokens (LM Studio's llama.cpp draft settings)."""

    max_draft_size: int = 16
    min_draft_size: int = 0
    p_min: float = 0.75  # "Drafting Probability Cutoff"
    auto: bool = False  # "Auto": choose each round's length (up to max_draft_size) from measurements

    def validate(self) -> None:
        if self.max_draft_size < 1:
            raise InvalidRequestError("max draft size must be >= 1")
        if self.min_draft_size < 0:
            raise InvalidRequestError("min draft size must be >= 0")
        if self.min_draft_size > self.max_draft_size:
            raise InvalidRequestError("min draft size must not exceed max draft size")
        if not 0.0 <= self.p_min <= 1.0:
            raise InvalidRequestError("drafting probability cutoff must be in [0, 1]")


@dataclass(frozen=True)
class GenerationRequest:
    """One reply to generate. Exactly one of `messages` and `prompt` is used:
    `prompt` (raw completion) wins when it is not None."""

    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    max_tokens: int = 512
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    draft: DraftSettings = field(default_factory=DraftSettings)
    stop: tuple[str, ...] = ()

    def validate(self) -> None:
        if self.prompt is None and not self.messages:
            raise InvalidRequestError("a request needs messages or a prompt")
        if self.max_tokens < 1:
            raise InvalidRequestError("max_tokens must be >= 1")
        if any(s == "" for s in self.stop):
            raise InvalidRequestError("stop strings must not be empty")
        self.sampling.validate()
        self.draft.validate()
