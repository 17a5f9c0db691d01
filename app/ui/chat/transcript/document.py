"""Renders one message into a QTextDocument, as it streams and when it is reopened.

Each source line is one block; a code block's blocks are marked so the view paints a panel
behind them (text frames would make every edit cost more with each code block). While a
reply streams only the line being written is rendered again, so a batch costs the same at token 20,000 as
at token 20, and a finished reply looks exactly as it did while streaming (code is lexed as
a whole when its fence closes: colours change, layout does not).

Each character carries its origin and round as format properties (the card's tooltip reads
them); accepted draft tokens get the theme's draft colour and tint, and, when shown, the
draft's rejected proposals are struck-through ghost text where the main model refused them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from itertools import pairwise

from PySide6.QtCore import Qt
from PySide6.QtGui import (
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)

from app.chat.markdown_lines import (
    ADDED,
    CODE,
    FenceState,
    Line,
    Span,
    parse_inline,
    parse_line,
)
from app.chat.message_model import MessageView
from app.chat.stream_batch import DRAFT, MAIN, REJECTED
from app.chat.syntax import Ranges, highlight_lines
from app.ui.chat.transcript.formats import (
    COPY_SCHEME,
    ORIGIN_PROP,
    PROPOSED_PROP,
    ROUND_PROP,
    Formats,
    RenderStyle,
)

_SPACE = re.compile(r"\s")
SEGMENT = 1024  # a line longer than this is rendered in pieces, so its end stays cheap to redraw


def chunk_cuts(line: str) -> list[int]:
    """Where a long line is cut into chunks: the first whitespace SEGMENT characters or more
    after the previous cut. Depends on the text only, so streaming and reopening agree."""
    out: list[int] = []
    start = SEGMENT
    while start < len(line):
        m = _SPACE.search(line, start)
        if m is None:
            break
        out.append(m.start())
        start = m.start() + SEGMENT
    return out


FSI, PDI = "\u2068", "\u2069"  # a first-strong isolate and its end (Unicode bidi)


def text_direction(text: str) -> Qt.LayoutDirection:
    """The direction of `text`'s first strong character (left to right when it has none)."""
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind == "L":
            return Qt.LayoutDirection.LeftToRight
        if kind in ("R", "AL"):
            return Qt.LayoutDirection.RightToLeft
    return Qt.LayoutDirection.LeftToRight


@dataclass
class _OpenCode:
    lang: str
    first_pos: int = -1  # where the first code line's block starts
    lines: list[tuple[str, int]] = field(default_factory=list)  # (source line, offset)


class MessageRenderer:
    def __init__(self, doc: QTextDocument, style: RenderStyle, tokens: bool = True) -> None:
        self.doc = doc
        self.style = style
        self.tokens = tokens  # False for the user's messages: no origins to show
        self.reset()

    def reset(self) -> None:
        self.doc.clear()
        self.doc.setDefaultFont(self.style.font)
        self.formats = Formats(self.style)
        self._done = 0  # source offset where the chunk being written starts
        self._line_start = 0  # ... and where its line starts
        self._line: Line | None = None  # the line's first chunk, once complete (a long line)
        self._line_state = FenceState()  # the state after that line
        self._next_cut = SEGMENT  # a long line is cut at the first whitespace from here
        self._state = FenceState()
        self._tail_pos = 0
        self._code: _OpenCode | None = None
        self._reuse = True  # the cursor's block is empty and takes the next line
        self._bulk = False

    def render(self, m: MessageView) -> None:
        """All of `m` at once: as streaming would have shown it, without lexing code twice."""
        self.reset()
        self._bulk = True  # code lines wait for their block to close, then are lexed once
        try:
            self.extend(m)
            self.finish(m)
        finally:
            self._bulk = False

    # --- streaming ---------------------------------------------------------------------------
    def extend(self, m: MessageView) -> None:
        """Render what `m.text` gained since the last call; only the chunk being written is
        rendered again. A chunk is a line, or a SEGMENT-sized piece of a very long line (cut
        at a whitespace: where depends on the text only, so streaming and reopening agree)."""
        text = m.text
        cursor = QTextCursor(self.doc)
        cursor.beginEditBlock()
        self._clear_from(cursor, self._tail_pos)
        while True:
            nl = text.find("\n", self._done)
            line_end = nl if nl >= 0 else len(text)
            cut = _SPACE.search(text, self._next_cut, line_end) if self._next_cut < line_end else None
            if cut is not None:
                self._complete_chunk(cursor, m, text, cut.start(), line_done=False)
            elif nl >= 0:
                self._complete_chunk(cursor, m, text, nl, line_done=True)
            else:
                break
        self._render_tail(cursor, m, text)
        cursor.endEditBlock()

    def finish(self, m: MessageView) -> None:
        """The reply ended inside a code fence: lex that code as a whole now."""
        if self._code is None:
            return
        src = m.text[self._line_start :]
        line, _ = parse_line(src, self._state)
        cursor = QTextCursor(self.doc)
        cursor.beginEditBlock()
        if self._relex_code(cursor, m, tail=(line, src, self._line_start)):
            # the line being written is one block again: a later extend renders it whole
            self._done, self._line = self._line_start, None
            self._next_cut = self._line_start + SEGMENT
        cursor.endEditBlock()

    # --- lines ---------------------------------------------------------------------------------
    def _complete_chunk(
        self, cursor: QTextCursor, m: MessageView, text: str, end: int, line_done: bool
    ) -> None:
        a = self._done
        src = text[a:end]
        ghost_end = end if line_done else end - 1  # a proposal refused at a cut goes with what follows
        if self._line is None:
            line, state = parse_line(src, self._state)
            if line.kind == "fence_end" and self._code is not None:
                self._relex_code(cursor, m)
                self._code = None
            if not (self._bulk and line.kind == "code"):
                self._emit(cursor, m, line, src, a, self._line_ranges(line, src), ghost_end)
            self._line, self._line_state = line, state
        elif not (self._bulk and self._line.kind == "code"):
            self._continue(cursor, m, self._line, src, a, ghost_end)
        if line_done:
            if self._line.kind == "code" and self._code is not None:
                self._code.lines.append((text[self._line_start : end], self._line_start))
            self._state = self._line_state
            self._line = None
            self._done = self._line_start = end + 1
        else:
            self._done = end
        self._next_cut = self._done + SEGMENT if self._line is not None else self._line_start + SEGMENT

    def _render_tail(self, cursor: QTextCursor, m: MessageView, text: str) -> None:
        a = self._done
        src = text[a:]
        if self._bulk and self._code is not None:
            return  # inside a code block: finish() lexes and shows it with the rest of the block
        if self._line is None:
            line, _ = parse_line(src, self._state)
            self._tail_pos = self._emit(cursor, m, line, src, a, self._line_ranges(line, src), len(text))
        else:  # the rest of a long line
            self._tail_pos = self._continue(cursor, m, self._line, src, a, len(text))

    def _continue(
        self,
        cursor: QTextCursor,
        m: MessageView,
        first: Line,
        src: str,
        offset: int,
        ghost_end: int,
        ranges: Ranges | None = None,
    ) -> int:
        """A later chunk of a long line, in a block of its own (Qt lays a block out whole, so
        one endless block would cost more with every token); returns where it starts."""
        if first.kind == "code":
            spans = [Span(src, 0, CODE)] if src else []
        elif first.kind in ("text", "heading", "bullet", "ordered", "quote", "table"):
            spans = parse_inline(src)
        else:
            spans = [Span(src, 0)] if first.kind == "table_rule" else []
        line = Line(first.kind, spans, first.level, first.lang)
        block_fmt, char_fmt = self.formats.block(line)
        block_fmt.setTextIndent(0)
        block_fmt.setTopMargin(0)
        self._start_block(cursor, block_fmt, char_fmt)
        start = cursor.block().position()
        if ranges is None:
            ranges = self._line_ranges(line, src)
        self._insert(cursor, self._fragments(m, line, offset, ranges, ghost_end))
        return start

    @staticmethod
    def _insert(cursor: QTextCursor, fragments: list[tuple[str, QTextCharFormat]]) -> None:
        """One block's fragments. A block showing rejected draft text takes its direction from
        the reply's own text: a right-to-left proposal must not turn the line around."""
        ghosts = False
        for text, fmt in fragments:
            cursor.insertText(text, fmt)
            ghosts = ghosts or fmt.property(ORIGIN_PROP) == REJECTED
        if ghosts:
            own = "".join(t for t, f in fragments if f.property(ORIGIN_PROP) != REJECTED)
            direction = QTextBlockFormat()
            direction.setLayoutDirection(text_direction(own))
            cursor.mergeBlockFormat(direction)

    def _start_block(
        self, cursor: QTextCursor, block_fmt: QTextBlockFormat, char_fmt: QTextCharFormat
    ) -> None:
        if self._reuse:
            cursor.setBlockFormat(block_fmt)
            cursor.setBlockCharFormat(char_fmt)
            self._reuse = False
        else:
            cursor.insertBlock(block_fmt, char_fmt)

    def _line_ranges(self, line: Line, src: str) -> Ranges:
        return highlight_lines([src], line.lang)[0] if line.kind == "code" and 0 < len(src) <= SEGMENT else []

    def _relex_code(
        self, cursor: QTextCursor, m: MessageView, tail: tuple[Line, str, int] | None = None
    ) -> bool:
        """Render the open code block's lines again, lexed as a whole (and the line being
        written after them, when given)."""
        code = self._code
        assert code is not None
        lines = list(code.lines)
        if tail is not None and tail[0].kind == "code":
            lines.append((tail[1], tail[2]))
        if not lines:
            return False
        if code.first_pos >= 0:
            cursor.setPosition(code.first_pos)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self._reuse = True
        else:  # not shown yet (rendering a whole message): after the panel's header
            cursor.movePosition(QTextCursor.MoveOperation.End)
            self._reuse = False
        ranges = highlight_lines([src for src, _ in lines], code.lang)
        last = -1
        for (src, offset), r in zip(lines, ranges, strict=True):
            last = self._emit_code_line(cursor, m, src, offset, r, code.lang)
        if tail is not None:
            if tail[0].kind != "code":
                last = self._emit(cursor, m, tail[0], tail[1], tail[2], [], tail[2] + len(tail[1]))
            self._tail_pos = last
        return True

    def _emit_code_line(
        self, cursor: QTextCursor, m: MessageView, src: str, offset: int, ranges: Ranges, lang: str
    ) -> int:
        """A whole code line with its lexed colours, chunked as streaming chunked it."""
        bounds = [0, *chunk_cuts(src), len(src)]
        first = -1
        for i, (a, b) in enumerate(pairwise(bounds)):
            part = src[a:b]
            clipped = [(max(ra, a) - a, min(rb, b) - a, role) for ra, rb, role in ranges if ra < b and rb > a]
            ghost_end = offset + b if i == len(bounds) - 2 else offset + b - 1
            line = Line("code", [Span(part, 0, CODE)] if part else [], lang=lang)
            if i == 0:
                first = self._emit(cursor, m, line, part, offset, clipped, ghost_end)
            else:
                self._continue(cursor, m, line, part, offset + a, ghost_end, clipped)
        return first

    def _clear_from(self, cursor: QTextCursor, pos: int) -> None:
        """Remove the rendering of the chunk being written, leaving its empty block to reuse."""
        cursor.setPosition(pos)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reuse = True

    def _emit(
        self,
        cursor: QTextCursor,
        m: MessageView,
        line: Line,
        src: str,  # noqa: ARG002 (the interface's signature)
        offset: int,
        ranges: Ranges,
        ghost_end: int,
    ) -> int:
        """Render one line at the cursor; returns the position where its block starts."""
        if line.kind == "fence":
            return self._open_code(cursor, line, offset)
        block_fmt, char_fmt = self.formats.block(line)
        self._start_block(cursor, block_fmt, char_fmt)
        start = cursor.block().position()
        if line.kind == "code" and self._code is not None and self._code.first_pos < 0:
            self._code.first_pos = start
        self._insert(cursor, self._fragments(m, line, offset, ranges, ghost_end))
        return start

    def _open_code(self, cursor: QTextCursor, line: Line, offset: int) -> int:
        """The header of a code panel: its language and a Copy link."""
        block_fmt, char_fmt = self.formats.code_header()
        self._start_block(cursor, block_fmt, char_fmt)
        start = cursor.block().position()
        self._code = _OpenCode(line.lang)
        label = self.formats.char(muted=True, small=True)
        cursor.insertText(line.lang or "code", label)
        cursor.insertText("   ", label)
        link = QTextCharFormat(self.formats.char(small=True, link=f"{COPY_SCHEME}:{offset}"))
        link.setToolTip("Copy this code block")
        cursor.insertText("Copy", link)
        return start

    def _fragments(
        self, m: MessageView, line: Line, offset: int, ranges: Ranges, ghost_end: int
    ) -> list[tuple[str, QTextCharFormat]]:
        s = self.style
        visual = self.tokens and s.visualize
        mono = line.kind in ("code", "table", "table_rule")
        muted = line.kind in ("quote", "table_rule")
        heading = line.level if line.kind == "heading" else 0
        ghosts = m.rejected_between(offset, ghost_end) if self.tokens and s.show_rejected else []
        rounds_known = m.max_round > 0
        gi = 0
        out: list[tuple[str, QTextCharFormat]] = []

        def plain_fmt(style: int, href: str, role: str, origin: str) -> QTextCharFormat:
            mark = DRAFT if visual and origin == DRAFT else ""
            return self.formats.char(
                style=style, heading=heading, mono=mono, muted=muted, role=role, link=href, mark=mark
            )

        def ghost(at: int) -> None:
            nonlocal gi
            while gi < len(ghosts) and ghosts[gi][0] <= at:
                _, rnd, text = ghosts[gi]
                f = QTextCharFormat(self.formats.char(mono=mono, mark=REJECTED))
                f.setProperty(ORIGIN_PROP, REJECTED)
                f.setProperty(ROUND_PROP, rnd)
                f.setProperty(PROPOSED_PROP, text)
                # isolated: its own direction never reorders the reply's text around it
                out.append((FSI + text.replace("\n", "↵") + PDI, f))
                gi += 1

        for span in line.spans:
            if span.start == ADDED:
                out.append((span.text, plain_fmt(span.style, "", "", MAIN)))
                continue
            a = offset + span.start
            b = a + len(span.text)
            cuts = {a, b}
            for ra, rb, _ in ranges:
                cuts.update(x + offset for x in (ra, rb) if a < x + offset < b)
            for g in ghosts[gi:]:
                if a < g[0] < b:
                    cuts.add(g[0])
            points = sorted(cuts)
            for p, q in pairwise(points):
                ghost(p)
                role = next((r for ra, rb, r in ranges if ra + offset <= p < rb + offset), "")
                for sa, sb, origin, rnd in m.segments(p, q) if self.tokens else [(p, q, MAIN, None)]:
                    f = plain_fmt(span.style, span.href, role, origin)
                    if visual:
                        f = QTextCharFormat(f)
                        f.setProperty(ORIGIN_PROP, origin)
                        if rnd is not None and rounds_known:
                            f.setProperty(ROUND_PROP, rnd)
                    out.append((span.text[sa - a : sb - a], f))
        ghost(ghost_end)
        return out
