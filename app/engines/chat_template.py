"""Turning chat messages into the prompt text a model was trained on.

The model's own Jinja template (GGUF `tokenizer.chat_template`, MLX `tokenizer_config.json`)
wins and receives `bos_token` and `eos_token`; where a model has none (the bundled Gemma base
model) a built-in template is chosen by architecture; a raw prompt is passed through
untouched. A final assistant message is left open so the model continues it.

A template that fails to render is an error the user sees, with the template's own message:
silently switching to another format would change what the model reads without saying so.
It lives with the engines (which render prompts), below the chat room.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from app.core.errors import SpeculaError
from app.core.request import ChatMessage, GenerationRequest, Role


class ChatTemplateError(SpeculaError):
    """The model's chat template could not render these messages."""


class TemplateSource(Protocol):
    @property
    def architecture(self) -> str: ...
    @property
    def chat_template(self) -> str | None: ...


INSTRUCTIONS = (Role.SYSTEM, Role.DEVELOPER)


def template_role(role: Role) -> str:
    """The role a template sees: "developer" (OpenAI's newer name) is the system's; templates
    that know no such role would refuse it or drop it."""
    return "system" if role is Role.DEVELOPER else role.value


def _gemma(messages: Sequence[ChatMessage]) -> str:
    """Gemma has no system role: the system text opens the first user turn; a tool's result
    is a user turn (Gemma has no tool role either)."""
    system = "\n\n".join(m.content for m in messages if m.role in INSTRUCTIONS)
    turns = [m for m in messages if m.role not in INSTRUCTIONS]
    parts: list[str] = []
    for i, m in enumerate(turns):
        role = "model" if m.role is Role.ASSISTANT else "user"
        content = m.content
        if system and i == 0 and m.role is Role.USER:
            content = f"{system}\n\n{content}"
        open_turn = i == len(turns) - 1 and m.role is Role.ASSISTANT
        parts.append(f"<start_of_turn>{role}\n{content}" + ("" if open_turn else "<end_of_turn>\n"))
    if not turns or turns[-1].role is not Role.ASSISTANT:
        parts.append("<start_of_turn>model\n")
    return "".join(parts)


def _chatml(messages: Sequence[ChatMessage]) -> str:
    parts: list[str] = []
    for i, m in enumerate(messages):
        open_turn = i == len(messages) - 1 and m.role is Role.ASSISTANT
        parts.append(
            f"<|im_start|>{template_role(m.role)}\n{m.content}" + ("" if open_turn else "<|im_end|>\n")
        )
    if not messages or messages[-1].role is not Role.ASSISTANT:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


BUILTIN_TEMPLATES = {"gemma": _gemma, "gemma2": _gemma, "gemma3": _gemma, "gemma3n": _gemma}


def _render_jinja(source: str, messages: Sequence[ChatMessage], bos_text: str, eos_text: str) -> str:
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    continuing = bool(messages) and messages[-1].role is Role.ASSISTANT
    history = messages[:-1] if continuing else messages
    context: dict[str, Any] = {
        "messages": [{"role": template_role(m.role), "content": m.content} for m in history],
        "add_generation_prompt": True,
        "bos_token": bos_text,
        "eos_token": eos_text,
    }
    text = env.from_string(source).render(**context)
    return text + (messages[-1].content if continuing else "")


def render_prompt(
    request: GenerationRequest, model: TemplateSource, bos_text: str = "", eos_text: str = ""
) -> tuple[str, bool]:
    """The prompt text and whether the tokenizer should add its special tokens (BOS)."""
    if request.prompt is not None:
        return request.prompt, True
    messages = request.messages
    source = model.chat_template
    if source:
        try:
            text = _render_jinja(source, messages, bos_text, eos_text)
        except Exception as exc:  # jinja2 raises many kinds; the user needs the template's words
            message = str(exc) or type(exc).__name__
            raise ChatTemplateError(f"the model's chat template failed: {message}") from None
        return text, not (bos_text and text.startswith(bos_text))
    builtin = BUILTIN_TEMPLATES.get(model.architecture, _chatml)
    return builtin(messages), True
