"""What a caller asks an engine for: messages or a raw prompt, sampling and draft settings.

Plain frozen dataclasses so the GUI, the CLI and the server can build, copy and compare
requests without touching an engine. Their defaults come from the setting declarations
(app/core/model_settings.py), so a request built in code behaves like one from the app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from app.core.context_overflow import ContextOverflow
from app.core.errors import InvalidRequestError
from app.core.model_settings import SPECS, default


def _check(**values: object) -> None:
    """The declared type and range of each setting (NaN and infinities included)."""
    for name, value in values.items():
        SPECS[name].coerce(value)


class Role(str, Enum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    DEVELOPER = "developer"  # OpenAI's newer name for system instructions (templates see "system")
    TOOL = "tool"  # a tool's result, passed to the chat template as its own turn


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

    temperature: float = default("temperature")
    top_k: int = default("top_k")
    top_p: float = default("top_p")
    min_p: float = default("min_p")
    repeat_penalty: float = default("repeat_penalty")
    repeat_last_n: int = 64
    seed: int | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any], seed: int | None = None) -> SamplingSettings:
        """From settings values (model_settings.effective)."""
        return cls(
            temperature=values["temperature"],
            top_k=values["top_k"],
            top_p=values["top_p"],
            min_p=values["min_p"],
            repeat_penalty=values["repeat_penalty"],
            seed=seed,
        )

    def validate(self) -> None:
        _check(
            temperature=self.temperature,
            top_k=self.top_k,
            top_p=self.top_p,
            min_p=self.min_p,
            repeat_penalty=self.repeat_penalty,
        )


@dataclass(frozen=True)
class DraftSettings:
    """How the draft model proposes tokens (LM Studio's llama.cpp draft settings)."""

    max_draft_size: int = default("draft_max")
    min_draft_size: int = default("draft_min")
    p_min: float = default("draft_p_min")  # "Drafting Probability Cutoff"
    auto: bool = default("draft_auto")  # "Auto": choose each round's length (up to max_draft_size)

    @classmethod
    def from_values(cls, values: Mapping[str, Any], engine: str = "llama.cpp") -> DraftSettings:
        """From settings values (model_settings.effective), for an engine: MLX drafts a fixed
        number of tokens per round."""
        if engine == "MLX":
            return cls(max_draft_size=values["mlx_draft_tokens"], min_draft_size=0, p_min=0.0, auto=False)
        return cls(
            max_draft_size=values["draft_max"],
            min_draft_size=values["draft_min"],
            p_min=values["draft_p_min"],
            auto=bool(values["draft_auto"]),
        )

    def validate(self) -> None:
        _check(
            draft_max=self.max_draft_size,
            draft_min=self.min_draft_size,
            draft_p_min=self.p_min,
            draft_auto=self.auto,
        )
        if self.min_draft_size > self.max_draft_size:
            raise InvalidRequestError("min draft size must not exceed max draft size")


def overflow_policy(values: Mapping[str, Any]) -> ContextOverflow:
    """The Context Overflow policy from settings values (model_settings.effective)."""
    return ContextOverflow(values["context_overflow"])


@dataclass(frozen=True)
class GenerationRequest:
    """One reply to generate. Exactly one of `messages` and `prompt` is used:
    `prompt` (raw completion) wins when it is not None. `context_overflow`: what the model
    reads when the messages outgrow its context (app/engines/context_fit.py); a raw prompt is
    not turns and is never cut."""

    messages: tuple[ChatMessage, ...] = ()
    prompt: str | None = None
    max_tokens: int = default("max_tokens")
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    draft: DraftSettings = field(default_factory=DraftSettings)
    stop: tuple[str, ...] = ()
    context_overflow: ContextOverflow = ContextOverflow.TRUNCATE_MIDDLE  # the declared default (tested)

    def validate(self) -> None:
        if self.prompt is None and not self.messages:
            raise InvalidRequestError("a request needs messages or a prompt")
        policy = self.context_overflow
        _check(
            max_tokens=self.max_tokens,
            context_overflow=policy.value if isinstance(policy, ContextOverflow) else policy,
        )
        if any(s == "" for s in self.stop):
            raise InvalidRequestError("stop strings must not be empty")
        self.sampling.validate()
        self.draft.validate()
