"""Markdown read line by line: every shown character is traced to its source offset."""

from __future__ import annotations

import pytest

from app.chat.markdown_lines import (
    ADDED,
    BOLD,
    CODE,
    ITALIC,
    LINK,
    STRIKE,
    FenceState,
    code_block_text,
    parse_inline,
    parse_line,
)


def shown(spans) -> str:
    return "".join(s.text for s in spans)


def assert_traced(line: str, spans) -> None:
    for s in spans:
        if s.start != ADDED:
            assert line[s.start : s.start + len(s.text)] == s.text, (line, s)


@pytest.mark.parametrize(
    ("line", "text", "styles"),
    [
        ("plain text", "plain text", [0]),
        ("a **bold** b", "a bold b", [0, BOLD, 0]),
        ("*it* and _it_", "it and it", [ITALIC, 0, ITALIC]),
        ("use `x = 1` here", "use x = 1 here", [0, CODE, 0]),
        ("~~gone~~", "gone", [STRIKE]),
        ("snake_case_name stays", "snake_case_name stays", [0]),
        ("**unclosed bold", "**unclosed bold", [0]),
        (r"\*not italic\*", "*not italic*", [0, 0, 0]),
        ("[docs](https://x.org) now", "docs now", [LINK, 0]),
    ],
)
def test_inline_markup_is_removed_and_every_character_traced(line, text, styles):
    spans = parse_inline(line)
    assert shown(spans) == text
    assert [s.style for s in spans] == styles
    assert_traced(line, spans)


def test_links_keep_their_address_and_bare_urls_become_links():
    spans = parse_inline("see https://example.org/a. or [**b**](http://b.c)")
    links = [(s.text, s.href) for s in spans if s.style & LINK]
    assert links == [("https://example.org/a", "https://example.org/a"), ("b", "http://b.c")]
    assert next(s for s in spans if s.text == "b").style & BOLD


@pytest.mark.parametrize(
    ("line", "kind", "level", "text"),
    [
        ("## Title ##", "heading", 2, "Title"),
        ("- item", "bullet", 0, "•\u2002item"),
        ("    * nested", "bullet", 2, "•\u2002nested"),
        ("12. twelfth", "ordered", 0, "12. twelfth"),
        ("> quoted", "quote", 0, "quoted"),
        ("---", "rule", 0, ""),
        ("| a | b |", "table", 0, "| a | b |"),
        ("|---|:-:|", "table_rule", 0, "|---|:-:|"),
        ("", "blank", 0, ""),
        ("just text", "text", 0, "just text"),
    ],
)
def test_block_kinds(line, kind, level, text):
    parsed, state = parse_line(line)
    assert (parsed.kind, parsed.level, shown(parsed.spans)) == (kind, level, text)
    assert state == FenceState()
    assert_traced(line, parsed.spans)


def test_fences_carry_state_and_code_is_shown_as_written():
    first, state = parse_line("```python")
    assert first.kind == "fence"
    assert first.lang == "python"
    assert state.marker == "```"
    code, state = parse_line("    x = **not bold**", state)
    assert code.kind == "code"
    assert shown(code.spans) == "    x = **not bold**"
    assert code.spans[0].style == CODE
    inner, state = parse_line("~~~", state)  # another fence character does not close it
    assert inner.kind == "code"
    end, state = parse_line("```", state)
    assert end.kind == "fence_end"
    assert state == FenceState()
    inline, _ = parse_line("```inline``` is not a fence")
    assert inline.kind == "text"


def test_code_block_text_is_what_copy_takes():
    text = "Intro\n```py\na = 1\n\nb = 2\n```\nafter"
    assert code_block_text(text, text.index("```")) == "a = 1\n\nb = 2"
    assert code_block_text("```\nunclosed\nlines", 0) == "unclosed\nlines"
    assert code_block_text(text, 0) == ""
