"""Markdown read one line at a time, with every shown character traced to its source offset.

A streamed reply is shown as it will look when finished: each source line becomes one block
(so line breaks are kept exactly as the model wrote them), and a line, once complete, never
changes; only the line being written is parsed again. Knowing the source offset of each shown
character makes the draft colouring exact, with no alignment guesswork.

Block syntax: ATX headings, bullet and numbered items, quotes, rules, fenced code (``` or ~~~),
table rows. Inline: `code`, **strong**, *emphasis*, ~~strike~~, [links](url), bare URLs and
backslash escapes, within one line. Anything else shows as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BOLD, ITALIC, CODE, STRIKE, LINK = 1, 2, 4, 8, 16
ADDED = -1  # a Span's start when the renderer adds the text (a bullet), not the source

_HEADING = re.compile(r"( {0,3})(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_BULLET = re.compile(r"([ \t]*)([-*+])([ \t]+)")
_ORDERED = re.compile(r"([ \t]*)(\d{1,9}[.)])([ \t]+)")
_QUOTE = re.compile(r"( {0,3}>[ \t]?)")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})[ \t]*([^`\s]*)")
_TABLE_RULE = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_URL = re.compile(r"https?://[^\s<>()\[\]]*[^\s<>()\[\].,;:!?'\"]")
_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


@dataclass(frozen=True, slots=True)
class Span:
    """Shown text; `start` is the line offset of text[0] (consecutive characters follow it)."""

    text: str
    start: int
    style: int = 0
    href: str = ""


@dataclass
class Line:
    kind: str  # text blank heading bullet ordered quote rule table table_rule fence fence_end code
    spans: list[Span] = field(default_factory=list)
    level: int = 0  # heading level, or list nesting depth
    lang: str = ""  # the language of a code fence, on its opening line and every code line


@dataclass(frozen=True)
class FenceState:
    """What the lines so far leave open: a code fence's marker and language, or nothing."""

    marker: str = ""
    lang: str = ""


def parse_line(line: str, state: FenceState = FenceState()) -> tuple[Line, FenceState]:
    """One source line (without its newline), given the state the previous lines left."""
    if state.marker:
        m = _FENCE.match(line)
        closes = m and m.group(2)[0] == state.marker[0] and len(m.group(2)) >= len(state.marker)
        if m and closes and not line[m.end() :].strip() and not m.group(3):
            return Line("fence_end", lang=state.lang), FenceState()
        return Line("code", [Span(line, 0, CODE)] if line else [], lang=state.lang), state
    if not line.strip():
        return Line("blank"), state
    m = _FENCE.match(line)
    if m and not (m.group(2)[0] == "`" and "`" in line[m.end() :]):
        lang = m.group(3).lower()
        return Line("fence", lang=lang), FenceState(m.group(2), lang)
    m = _HEADING.match(line)
    if m:
        start = m.start(3) if m.group(3) else len(line)
        return Line("heading", parse_inline(m.group(3) or "", start), level=len(m.group(2))), state
    if _RULE.match(line):
        return Line("rule"), state
    m = _BULLET.match(line)
    if m:
        depth = _depth(m.group(1))
        rest = m.end()
        return Line("bullet", [Span("•\u2002", ADDED), *parse_inline(line[rest:], rest)], level=depth), state
    m = _ORDERED.match(line)
    if m:
        depth = _depth(m.group(1))
        marker = Span(m.group(2) + " ", m.start(2))
        return Line("ordered", [marker, *parse_inline(line[m.end() :], m.end())], level=depth), state
    m = _QUOTE.match(line)
    if m:
        return Line("quote", parse_inline(line[m.end() :], m.end())), state
    stripped = line.lstrip()
    if stripped.startswith("|"):
        if _TABLE_RULE.match(line):
            return Line("table_rule", [Span(line, 0)]), state
        return Line("table", parse_inline(line, 0)), state
    return Line("text", parse_inline(line, 0)), state


def _depth(indent: str) -> int:
    return len(indent.replace("\t", "    ")) // 2


def _can_open(s: str, i: int, n: int, ch: str) -> bool:
    after = s[i + n] if i + n < len(s) else " "
    before = s[i - 1] if i > 0 else " "
    if after.isspace():
        return False
    return not (ch == "_" and before.isalnum())


def _can_close(s: str, j: int, n: int, ch: str) -> bool:
    before = s[j - 1] if j > 0 else " "
    after = s[j + n] if j + n < len(s) else " "
    if before.isspace():
        return False
    return not (ch == "_" and after.isalnum())


def _find_closer(s: str, start: int, delim: str) -> int:
    n = len(delim)
    j = s.find(delim, start)
    while j >= 0:
        single_ok = n > 1 or (
            (j + 1 >= len(s) or s[j + 1] != delim) and (j == 0 or s[j - 1] != delim or j - 1 < start)
        )
        if j > start and single_ok and _can_close(s, j, n, delim[0]):
            return j
        j = s.find(delim, j + n)
    return -1


def parse_inline(s: str, base: int = 0, style: int = 0) -> list[Span]:
    """Spans of `s` (which starts at line offset `base`), markup removed."""
    out: list[Span] = []
    lit_start = 0  # start of the literal run not yet emitted
    i = 0

    def flush(end: int) -> None:
        if end > lit_start:
            _literal(s[lit_start:end], base + lit_start, style, out)

    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s) and s[i + 1] in _PUNCT:
            flush(i)
            out.append(Span(s[i + 1], base + i + 1, style))
            i += 2
            lit_start = i
            continue
        if c == "`":
            n = len(s) - i - len(s[i:].lstrip("`"))
            j = s.find("`" * n, i + n)
            while j >= 0 and j + n < len(s) and s[j + n] == "`":
                j = s.find("`" * n, j + n + 1)
            if j >= i + n:
                flush(i)
                a, b = i + n, j
                inner = s[a:b]
                if len(inner) > 2 and inner[0] == " " and inner[-1] == " " and inner.strip():
                    a, b = a + 1, b - 1
                if b > a:
                    out.append(Span(s[a:b], base + a, style | CODE))
                i = j + n
                lit_start = i
                continue
            i += n
            continue
        if c in "*_~" and not style & CODE:
            n = 2 if s.startswith(c * 2, i) else 1
            if c == "~" and n == 1:
                i += 1
                continue
            delim = c * n
            if _can_open(s, i, n, c):
                j = _find_closer(s, i + n, delim)
                if j > 0:
                    flush(i)
                    add = STRIKE if c == "~" else (BOLD if n == 2 else ITALIC)
                    out.extend(parse_inline(s[i + n : j], base + i + n, style | add))
                    i = j + n
                    lit_start = i
                    continue
            i += n
            continue
        if c == "[":
            close = s.find("](", i + 1)
            end = s.find(")", close + 2) if close > i else -1
            if close > i + 1 and end > close:
                flush(i)
                href = (s[close + 2 : end].strip().split(" ") or [""])[0]
                linked = parse_inline(s[i + 1 : close], base + i + 1, style | LINK)
                out.extend(Span(sp.text, sp.start, sp.style, sp.href or href) for sp in linked)
                i = end + 1
                lit_start = i
                continue
        i += 1
    flush(len(s))
    return out


def _literal(text: str, start: int, style: int, out: list[Span]) -> None:
    """Plain text, with bare web addresses made links."""
    pos = 0
    for m in _URL.finditer(text):
        if m.start() > pos:
            out.append(Span(text[pos : m.start()], start + pos, style))
        out.append(Span(m.group(0), start + m.start(), style | LINK, m.group(0)))
        pos = m.end()
    if pos < len(text):
        out.append(Span(text[pos:], start + pos, style))


def code_block_text(text: str, fence_offset: int) -> str:
    """The code inside the fenced block whose opening line starts at `fence_offset`."""
    lines = text[fence_offset:].split("\n")
    first, state = parse_line(lines[0])
    if first.kind != "fence":
        return ""
    out: list[str] = []
    for src in lines[1:]:
        line, state = parse_line(src, state)
        if line.kind == "fence_end":
            break
        out.append(src)
    return "\n".join(out)
