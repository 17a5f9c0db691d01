"""A conversation as one self-contained HTML page that looks like the chat: reply cards in a
centred column, Markdown read line by line as the transcript reads it (`markdown_lines`), code
highlighted (`syntax`), accepted draft tokens green on a green tint (hover says the round), the
stats line under each reply, light and dark following the reader's system
(`prefers-color-scheme`). No script, no file beside it: it opens in any browser.

The colours are the app's two themes (app/ui/theme/colours.py; a test keeps them equal).
"""

from __future__ import annotations

import html
import time
from itertools import pairwise

from app import __version__
from app.chat.markdown_lines import (
    ADDED,
    BOLD,
    CODE,
    ITALIC,
    LINK,
    STRIKE,
    FenceState,
    Line,
    Span,
    parse_line,
)
from app.chat.message_model import MessageView
from app.chat.reply_stats import ReplyStats
from app.chat.stats_text import stats_line
from app.chat.stream_batch import DRAFT
from app.chat.syntax import Ranges, highlight_lines
from app.chat.transfer.markdown_export import author, version_note, when
from app.chat.transfer.portable import PortableConversation, PortableMessage

SYNTAX_ROLES = ("keyword", "string", "comment", "number", "function", "builtin", "decorator")
PALETTES: dict[str, dict[str, str]] = {
    "light": {
        "window": "#f3f4f6",
        "surface": "#ffffff",
        "border": "#d8dce2",
        "text": "#1f2328",
        "muted": "#57606a",
        "accent": "#2357c6",
        "card_user": "#e9f0fd",
        "draft": "#0b6b32",
        "draft_bg": "#dcf3e4",
        "code_bg": "#f6f8fa",
        "code_header": "#eaeef2",
        "keyword": "#7c3aad",
        "string": "#a0400f",
        "comment": "#57606a",
        "number": "#0b57a4",
        "function": "#8a4b08",
        "builtin": "#0b57a4",
        "decorator": "#7c3aad",
    },
    "dark": {
        "window": "#15171c",
        "surface": "#1e222a",
        "border": "#363d4a",
        "text": "#e6e8eb",
        "muted": "#a0a8b3",
        "accent": "#6ea8fe",
        "card_user": "#1f2d47",
        "draft": "#6ee7a0",
        "draft_bg": "#173a26",
        "code_bg": "#12151a",
        "code_header": "#262b34",
        "keyword": "#d2a8ff",
        "string": "#f2b482",
        "comment": "#9ba5b0",
        "number": "#79c0ff",
        "function": "#e0c46c",
        "builtin": "#ffa657",
        "decorator": "#d2a8ff",
    },
}


def _variables(palette: dict[str, str]) -> str:
    return "".join(f"--{name.replace('_', '-')}:{value};" for name, value in palette.items())


STYLE = (
    f":root{{color-scheme:light dark;{_variables(PALETTES['light'])}}}"
    f"@media (prefers-color-scheme: dark){{:root{{{_variables(PALETTES['dark'])}}}}}"
    """
body{margin:0;background:var(--window);color:var(--text);
 font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif}
main{max-width:780px;margin:0 auto;padding:24px 16px 48px}
header h1{font-size:1.5em;margin:0 0 4px}
.meta,.stats,.who .ver,.legend{color:var(--muted);font-size:.85em}
.legend b{color:var(--draft)}
section+section{margin-top:48px;border-top:1px solid var(--border);padding-top:16px}
article{background:var(--surface);border:1px solid var(--border);border-radius:10px;
 padding:12px 16px;margin:14px 0}
article.user{background:var(--card-user);margin-left:15%}
article.system{font-style:italic}
.who{font-weight:600;margin-bottom:6px}
.who .ver{font-weight:normal;margin-left:8px}
.l{margin:0;min-height:1.55em;white-space:pre-wrap;overflow-wrap:anywhere}
.h{font-weight:700}.h1{font-size:1.4em}.h2{font-size:1.25em}.h3{font-size:1.1em}
.q{border-left:3px solid var(--border);padding-left:10px;color:var(--muted)}
.t{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.9em}
hr{border:none;border-top:1px solid var(--border)}
a{color:var(--accent)}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.9em}
:not(pre)>code,.l code{background:var(--code-bg);border-radius:4px;padding:0 3px}
.code{border:1px solid var(--border);border-radius:8px;margin:8px 0;overflow:hidden}
.code .lang{background:var(--code-header);color:var(--muted);font-size:.8em;padding:3px 10px}
pre{margin:0;padding:8px 10px;background:var(--code-bg);overflow-x:auto;white-space:pre}
.d{color:var(--draft);background:var(--draft-bg);border-radius:2px}
.stats{margin:8px 0 0}
""" + "".join(f".s-{role}{{color:var(--{role})}}" for role in SYNTAX_ROLES)
)
_TAGS = ((LINK, "a"), (CODE, "code"), (BOLD, "strong"), (ITALIC, "em"), (STRIKE, "s"))


def html_document(conversations: list[PortableConversation]) -> str:
    title = conversations[0].title if len(conversations) == 1 else f"{len(conversations)} conversations"
    body = "".join(_conversation(c) for c in conversations)
    legend = (
        '<p class="legend"><b>Green</b> on a green tint: tokens the draft model proposed and the main '
        "model accepted (hover one for its round).</p>"
    )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="generator" content="Specula {html.escape(__version__)}">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>\n"
        f"<body><main>{legend}{body}</main></body></html>\n"
    )


def _conversation(conv: PortableConversation) -> str:
    facts = [f"{conv.message_count} messages"]
    if conv.updated:
        facts.append(f"last written {when(conv.updated)}")
    facts.append(f"exported from Specula on {when(time.time())}")
    out = [f"<section><header><h1>{html.escape(conv.title)}</h1>"]
    out.append(f'<p class="meta">{html.escape(" · ".join(facts))}</p></header>')
    system = (conv.settings or {}).get("system_prompt")
    if isinstance(system, str) and system.strip():
        out.append(f'<article class="system"><div class="who">System prompt</div>{_plain(system)}</article>')
    out += [_message(m) for m in conv.messages]
    out.append("</section>")
    return "".join(out)


def _message(message: PortableMessage) -> str:
    v = message.current
    stats = ReplyStats.from_dict(v.stats)
    note = version_note(message)
    head = html.escape(author(message, stats)) + (
        f'<span class="ver">{html.escape(note)}</span>' if note else ""
    )
    if message.role != "assistant":
        role = html.escape(message.role)
        return f'<article class="{role}"><div class="who">{head}</div>{_plain(v.content)}</article>'
    view = MessageView.from_stored("assistant", v.content, v.origins, v.stats)
    line = f'<p class="stats">{html.escape(stats_line(stats))}</p>' if stats is not None else ""
    return f'<article class="assistant"><div class="who">{head}</div>{_markdown(view)}{line}</article>'


def _plain(text: str) -> str:
    return "".join(f'<p class="l">{html.escape(line)}</p>' for line in text.split("\n"))


def _markdown(m: MessageView) -> str:
    """The reply line by line, each character coloured by its origin."""
    out: list[str] = []
    state = FenceState()
    offset = 0
    code: list[tuple[str, int]] = []  # the open code block's lines and their offsets
    lang = ""
    for src in m.text.split("\n"):
        line, state = parse_line(src, state)
        if line.kind == "fence":
            lang, code = line.lang, []
            out.append(f'<div class="code"><div class="lang">{html.escape(lang or "code")}</div>')
        elif line.kind == "code":
            code.append((src, offset))
        elif line.kind == "fence_end":
            out.append(_code_block(m, code, lang))
            code = []
        else:
            out.append(_line(m, line, offset))
        offset += len(src) + 1
    if state.marker:  # a block the reply never closed
        out.append(_code_block(m, code, lang))
    return "".join(out)


def _code_block(m: MessageView, lines: list[tuple[str, int]], lang: str) -> str:
    ranges = highlight_lines([src for src, _ in lines], lang)
    rows = [
        _spans(m, [Span(src, 0, 0)] if src else [], offset, r)
        for (src, offset), r in zip(lines, ranges, strict=True)
    ]
    return "<pre><code>" + "\n".join(rows) + "</code></pre></div>"


def _line(m: MessageView, line: Line, offset: int) -> str:
    inner = _spans(m, line.spans, offset, [])
    kind = line.kind
    if kind == "rule":
        return "<hr>"
    if kind == "heading":
        return f'<p class="l h h{min(line.level, 3)}">{inner}</p>'
    if kind in ("bullet", "ordered"):
        return f'<p class="l" style="padding-left:{0.4 + 1.3 * (line.level + 1):.1f}em">{inner}</p>'
    if kind == "quote":
        return f'<p class="l q">{inner}</p>'
    if kind in ("table", "table_rule"):
        return f'<p class="l t">{inner}</p>'
    return f'<p class="l">{inner}</p>'


def _spans(m: MessageView, spans: list[Span], offset: int, ranges: Ranges) -> str:
    """Inline spans as HTML, cut wherever the code role or the token origin changes."""
    out: list[str] = []
    for span in spans:
        if span.start == ADDED:
            out.append(html.escape(span.text))
            continue
        a = offset + span.start
        b = a + len(span.text)
        cuts = {a, b}
        for ra, rb, _ in ranges:
            cuts.update(x + offset for x in (ra, rb) if a < x + offset < b)
        pieces: list[list[object]] = []  # [text, role, origin, round], neighbours alike merged
        for p, q in pairwise(sorted(cuts)):
            role = next((r for ra, rb, r in ranges if ra + offset <= p < rb + offset), "")
            for sa, sb, origin, known in m.segments(p, q):
                text = span.text[sa - a : sb - a]
                rnd = known if m.max_round else None  # an engine without rounds gives all round 0
                if pieces and pieces[-1][1:] == [role, origin, rnd]:
                    pieces[-1][0] = f"{pieces[-1][0]}{text}"
                else:
                    pieces.append([text, role, origin, rnd])
        out.append(_styled("".join(_piece(*p) for p in pieces), span))
    return "".join(out)


def _piece(text: object, role: object, origin: object, rnd: object) -> str:
    out = html.escape(str(text))
    if role:
        out = f'<span class="s-{role}">{out}</span>'
    if origin == DRAFT:
        tip = "accepted draft token" + (f", round {rnd}" if rnd is not None else "")
        out = f'<span class="d" title="{tip}">{out}</span>'
    return out


def _styled(inner: str, span: Span) -> str:
    for bit, tag in _TAGS:
        if span.style & bit:
            if tag == "a":
                href = span.href if span.href.startswith(("http://", "https://", "mailto:")) else ""
                inner = f'<a href="{html.escape(href)}">{inner}</a>' if href else inner
            else:
                inner = f"<{tag}>{inner}</{tag}>"
    return inner
