from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.core.request import ChatMessage, GenerationRequest, Role
from app.engines.chat_template import ChatTemplateError, render_prompt


@dataclass
class Source:
    architecture: str = "gemma3"
    chat_template: str | None = None


def chat(*pairs: tuple[Role, str]) -> GenerationRequest:
    return GenerationRequest(messages=tuple(ChatMessage(r, c) for r, c in pairs))


def rendered(request: GenerationRequest, source: Source, **tokens: str) -> tuple[str, bool]:
    """The prompt's text and whether the tokenizer adds BOS; its parts joined are that text."""
    prompt = render_prompt(request, source, **tokens)
    assert "".join(p.text for p in prompt.parts) == prompt.text
    return prompt.text, prompt.add_special


def test_gemma_builtin_folds_the_system_prompt_into_the_first_user_turn():
    text, add_special = rendered(chat((Role.SYSTEM, "Be brief."), (Role.USER, "Hi")), Source())
    assert text == "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert add_special


def test_continuing_an_assistant_message_leaves_its_turn_open():
    text, _ = rendered(chat((Role.USER, "Hi"), (Role.ASSISTANT, "Hello, I")), Source())
    assert text.endswith("<start_of_turn>model\nHello, I")


def test_unknown_architecture_uses_chatml():
    text, _ = rendered(chat((Role.USER, "Hi")), Source(architecture="mystery"))
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_gguf_jinja_template_wins_and_its_bos_is_not_added_twice():
    template = (
        "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
    )
    text, add_special = rendered(chat((Role.USER, "Hi")), Source(chat_template=template), bos_text="<s>")
    assert text == "<s>[user]Hi[assistant]"
    assert not add_special


def test_a_template_gets_the_eos_token_too():
    template = "{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"
    text, _ = rendered(
        chat((Role.USER, "Hi"), (Role.ASSISTANT, "Yo"), (Role.USER, "Bye")),
        Source(chat_template=template),
        bos_text="<s>",
        eos_text="</s>",
    )
    assert text == "Hi</s>Yo</s>Bye</s>"


def test_a_template_that_fails_is_an_error_with_its_own_message_not_chatml():
    raising = (
        "{% for m in messages %}{% if m.role == 'system' %}"
        "{{ raise_exception('System role not supported') }}{% endif %}{% endfor %}"
    )
    with pytest.raises(ChatTemplateError, match="System role not supported"):
        render_prompt(chat((Role.SYSTEM, "Be brief."), (Role.USER, "Hi")), Source(chat_template=raising))
    with pytest.raises(ChatTemplateError, match="chat template failed"):
        render_prompt(chat((Role.USER, "Hi")), Source(chat_template="{% for %}"))


def test_raw_prompt_is_untouched():
    assert rendered(GenerationRequest(prompt="abc <x>"), Source()) == ("abc <x>", True)


def test_developer_is_system_and_tool_keeps_its_role():
    template = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
    request = chat((Role.DEVELOPER, "Be brief."), (Role.USER, "Hi"), (Role.TOOL, "42"))
    text, _ = rendered(request, Source(chat_template=template))
    assert text == "[system]Be brief.[user]Hi[tool]42"
    gemma, _ = rendered(request, Source())
    assert gemma.startswith("<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>user\n42")
    chatml, _ = rendered(request, Source(architecture="mystery"))
    assert "<|im_start|>system\nBe brief." in chatml
    assert "<|im_start|>tool\n42" in chatml


def messages_in(request: GenerationRequest, source: Source, **tokens: str) -> list[str]:
    return [p.text for p in render_prompt(request, source, **tokens).parts if not p.scaffold]


def test_parts_tell_the_templates_markers_from_message_text():
    request = chat((Role.SYSTEM, "Be brief."), (Role.USER, "<end_of_turn>"), (Role.ASSISTANT, "Ok"))
    prompt = render_prompt(request, Source())
    scaffold = [p.text for p in prompt.parts if p.scaffold]
    assert scaffold == ["<start_of_turn>user\n", "<end_of_turn>\n", "<start_of_turn>model\n"]
    assert messages_in(request, Source()) == ["Be brief.", "\n\n", "<end_of_turn>", "Ok"]
    assert messages_in(request, Source(architecture="mystery")) == ["Be brief.", "<end_of_turn>", "Ok"]


def test_a_jinja_templates_message_text_is_found_even_trimmed_or_quoted():
    trimming = "{% for m in messages %}[{{ m.role }}]{{ m.content | trim }}{% endfor %}[assistant]"
    request = chat((Role.USER, "  <s> hi \n"), (Role.USER, ""), (Role.USER, "x"))
    assert rendered(request, Source(chat_template=trimming))[0] == "[user]<s> hi[user][user]x[assistant]"
    assert messages_in(request, Source(chat_template=trimming)) == ["<s> hi", "", "x"]
    quoting = "{% for m in messages %}{{ m.content | tojson }},{% endfor %}"
    assert rendered(chat((Role.USER, "hi")), Source(chat_template=quoting))[0] == '"hi",'
    assert messages_in(chat((Role.USER, "hi")), Source(chat_template=quoting)) == ["hi"]
