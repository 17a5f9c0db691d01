"""Turning chat messages into the prompt text a model was trained on.

The model's own Jinja template (GGUF `tokenizer.chat_template`, MLX `tokenizer_config.json`)
wins and receives `bos_token` and `eos_token`; where a model has none (the bundled Gemma base
model) a built-in template is chosen by architecture; a raw prompt is passed through
untouched. A final assistant message is left open so the model continues it. The prompt
comes in parts that tell the template's own text from message text, so the tokenizer
(app/engines/prompt_tokens.py) can read control tokens only where the template wrote them.

A template that fails to render is an error the user sees, with the template's own message:
silently switching to another format would change what the model reads without saying so.
It lives with the engines (which render prompts), below the chat room.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class PromptPart:
    text: str
    scaffold: bool  # the template's own text: control-token texts in it are control tokens


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt as the model should read it (`text`), and the same prompt in parts that tell
    the template's scaffolding from message text.

    Message text is what a user typed, pasted or an API client sent: written-out control
    tokens in it ("<end_of_turn>", "<bos>") must stay text, or a message could forge turns.
    `parts` joined equal `text` except where a Jinja template transforms a message beyond
    trimming it (see _render_jinja). A raw prompt is one scaffold part: its author writes the
    template. `add_special`: whether the tokenizer should add its own BOS."""

    text: str
    parts: tuple[PromptPart, ...]
    add_special: bool


def _scaffold(text: str) -> PromptPart:
    return PromptPart(text, scaffold=True)


def _message(text: str) -> PromptPart:
    return PromptPart(text, scaffold=False)


def template_role(role: Role) -> str:
    """The role a template sees: "developer" (OpenAI's newer name) is the system's; templates
    that know no such role would refuse it or drop it."""
    return "system" if role is Role.DEVELOPER else role.value


def _gemma(messages: Sequence[ChatMessage]) -> list[PromptPart]:
    """Gemma has no system role: the system text opens the first user turn; a tool's result
    is a user turn (Gemma has no tool role either)."""
    system = "\n\n".join(m.content for m in messages if m.role in INSTRUCTIONS)
    turns = [m for m in messages if m.role not in INSTRUCTIONS]
    parts: list[PromptPart] = []
    for i, m in enumerate(turns):
        role = "model" if m.role is Role.ASSISTANT else "user"
        parts.append(_scaffold(f"<start_of_turn>{role}\n"))
        if system and i == 0 and m.role is Role.USER:
            parts += [_message(system), _message("\n\n")]
        parts.append(_message(m.content))
        if not (i == len(turns) - 1 and m.role is Role.ASSISTANT):  # a final reply stays open
            parts.append(_scaffold("<end_of_turn>\n"))
    if not turns or turns[-1].role is not Role.ASSISTANT:
        parts.append(_scaffold("<start_of_turn>model\n"))
    return parts


def _chatml(messages: Sequence[ChatMessage]) -> list[PromptPart]:
    parts: list[PromptPart] = []
    for i, m in enumerate(messages):
        parts += [_scaffold(f"<|im_start|>{template_role(m.role)}\n"), _message(m.content)]
        if not (i == len(messages) - 1 and m.role is Role.ASSISTANT):
            parts.append(_scaffold("<|im_end|>\n"))
    if not messages or messages[-1].role is not Role.ASSISTANT:
        parts.append(_scaffold("<|im_start|>assistant\n"))
    return parts


BUILTIN_TEMPLATES = {"gemma": _gemma, "gemma2": _gemma, "gemma3": _gemma, "gemma3n": _gemma}


def _render_jinja(
    source: str, messages: Sequence[ChatMessage], bos_text: str, eos_text: str
) -> tuple[str, list[PromptPart]]:
    """The template's own text for these messages, and the same render split into the
    template's scaffolding and the message texts.

    The split comes from a second render in which every message text is replaced by a marker
    (letters and digits with a random nonce, so no message can contain it and `trim`,
    `tojson` or HTML escaping leave it intact), with the text's own leading and trailing
    whitespace kept around the marker so `| trim` (Gemma's and Llama 3's templates) behaves
    as on the real text. Where the template does more with a message (splits off a
    `</think>`, tests its first characters) the two renders differ; the parts then hold the
    text where the template put its marker, and the tokenizer (app/engines/prompt_tokens.py)
    falls back to them only if the real render would read a message as control tokens."""
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    template = env.from_string(source)
    continuing = bool(messages) and messages[-1].role is Role.ASSISTANT
    history = messages[:-1] if continuing else messages

    def render(contents: Sequence[str]) -> str:
        context: dict[str, Any] = {
            "messages": [
                {"role": template_role(m.role), "content": c} for m, c in zip(history, contents, strict=True)
            ],
            "add_generation_prompt": True,
            "bos_token": bos_text,
            "eos_token": eos_text,
        }
        return template.render(**context)

    text = render([m.content for m in history])
    nonce = secrets.token_hex(8)
    markers = {f"Specula{nonce}M{i}X": m.content.strip() for i, m in enumerate(history)}
    marked = render([_around(m.content, marker) for m, marker in zip(history, markers, strict=True)])
    parts: list[PromptPart] = []
    for i, piece in enumerate(re.split(f"(Specula{nonce}M\\d+X)", marked)):
        if piece:
            parts.append(_message(markers[piece]) if i % 2 else _scaffold(piece))
    if continuing:
        text += messages[-1].content
        parts.append(_message(messages[-1].content))
    return text, parts


def _around(content: str, marker: str) -> str:
    """The marker standing for `content`, in the content's own outer whitespace."""
    core = content.strip()
    if not core:
        return content + marker
    start = content.index(core)
    return content[:start] + marker + content[start + len(core) :]


def render_prompt(
    request: GenerationRequest, model: TemplateSource, bos_text: str = "", eos_text: str = ""
) -> RenderedPrompt:
    """The prompt a model reads for this request, in parts (see RenderedPrompt)."""
    if request.prompt is not None:
        return RenderedPrompt(request.prompt, (_scaffold(request.prompt),), add_special=True)
    messages = request.messages
    source = model.chat_template
    if source:
        try:
            text, parts = _render_jinja(source, messages, bos_text, eos_text)
        except Exception as exc:  # jinja2 raises many kinds; the user needs the template's words
            message = str(exc) or type(exc).__name__
            raise ChatTemplateError(f"the model's chat template failed: {message}") from None
        return RenderedPrompt(text, tuple(parts), add_special=not (bos_text and text.startswith(bos_text)))
    builtin = BUILTIN_TEMPLATES.get(model.architecture, _chatml)
    parts = builtin(messages)
    return RenderedPrompt("".join(p.text for p in parts), tuple(parts), add_special=True)
