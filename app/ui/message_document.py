"""Renders one message into a QTextDocument, as it streams and when it is reopened.

Each source line is one block (code lines sit in a framed code panel). While a reply streams
only the line being written is rendered again, so a batch costs the same at token 20,000 as
at token 20, and a finished reply looks exactly as it did while streaming (code is lexed as
a whole when its fence closes: colours change, layout does not).

Each character carries its origin and round as format properties (the card's tooltip reads
them); accepted draft tokens get the theme's draft colour and tint, and, when shown, the
draft's rejected proposals are struck-through ghost text where the main model refused them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextFrame,
    QTextFrameFormat,
    QTextLength,
)

from app.ui.markdown_lines import ADDED, BOLD, CODE, ITALIC, LINK, STRIKE, FenceState, Line, Span, parse_line
from app.ui.message_model import MessageView
from app.ui.stream_batch import DRAFT, MAIN, REJECTED
from app.ui.syntax import Ranges, highlight_lines
from app.ui.theme import LIGHT, Theme

_USER = QTextFormat.Property.UserProperty.value
ORIGIN_PROP = _USER + 1
ROUND_PROP = _USER + 2
PROPOSED_PROP = _USER + 3
COPY_SCHEME = "copy"
_PROPORTIONAL = QTextBlockFormat.LineHeightTypes.ProportionalHeight.value
_HEADING_SCALE = {1: 1.5, 2: 1.3, 3: 1.15}


@dataclass
class RenderStyle:
    theme: Theme = LIGHT
    visualize: bool = True
    show_rejected: bool = False
    font: QFont = field(default_factory=QFont)
    mono: QFont = field(default_factory=lambda: QFont("monospace"))


@dataclass
class _OpenCode:
    frame: QTextFrame
    lang: str
    first_pos: int = -1  # where the first code line's block starts
    lines: list[tuple[str, int]] = field(default_factory=list)  # (source line, offset)


def token_tooltip(fmt: QTextCharFormat) -> str:
    """What hovering a character says: its origin, its round, what the draft proposed."""
    origin = fmt.property(ORIGIN_PROP)
    if not origin:
        return ""
    rnd = fmt.property(ROUND_PROP)
    where = "" if rnd is None else (" · from the prompt" if rnd == 0 else f" · round {rnd}")
    if origin == DRAFT:
        return f"Accepted draft token{where}"
    if origin == REJECTED:
        proposed = str(fmt.property(PROPOSED_PROP) or "")
        return f"Rejected draft{where}: the draft proposed “{proposed}”; the main model chose otherwise here"
    return f"Main model token{where}"


class MessageRenderer:
    def __init__(self, doc: QTextDocument, style: RenderStyle, tokens: bool = True) -> None:
        self.doc = doc
        self.style = style
        self.tokens = tokens  # False for the user's messages: no origins to show
        self._formats: dict[tuple[object, ...], QTextCharFormat] = {}
        self.reset()

    def reset(self) -> None:
        self.doc.clear()
        self.doc.setDefaultFont(self.style.font)
        self._formats.clear()
        self._done = 0  # source offset where the line being written starts
        self._state = FenceState()
        self._tail_pos = 0
        self._code: _OpenCode | None = None
        self._reuse = True  # the cursor's block is empty and takes the next line
        self._after_tail = True  # clearing the line being written leaves an empty block

    def render(self, m: MessageView) -> None:
        self.reset()
        self.extend(m)
        self.finish(m)

    # --- streaming ---------------------------------------------------------------------------
    def extend(self, m: MessageView) -> None:
        """Render what `m.text` gained since the last call (and the line being written again)."""
        text = m.text
        cursor = QTextCursor(self.doc)
        cursor.beginEditBlock()
        self._clear_from(cursor, self._tail_pos)
        pos = self._done
        while True:
            nl = text.find("\n", pos)
            if nl < 0:
                break
            self._complete_line(cursor, m, text[pos:nl], pos)
            pos = nl + 1
        self._done = pos
        line, _ = parse_line(text[pos:], self._state)
        self._after_tail = True
        self._tail_pos = self._emit(cursor, m, line, text[pos:], pos, self._line_ranges(line, text[pos:]))
        cursor.endEditBlock()

    def finish(self, m: MessageView) -> None:
        """The reply ended inside a code fence: lex that code as a whole now."""
        if self._code is None:
            return
        src = m.text[self._done :]
        line, _ = parse_line(src, self._state)
        cursor = QTextCursor(self.doc)
        cursor.beginEditBlock()
        self._relex_code(cursor, m, tail=(line, src, self._done))
        cursor.endEditBlock()

    # --- lines ---------------------------------------------------------------------------------
    def _complete_line(self, cursor: QTextCursor, m: MessageView, src: str, offset: int) -> None:
        line, state = parse_line(src, self._state)
        self._state = state
        if line.kind == "fence_end" and self._code is not None:
            self._relex_code(cursor, m)
            cursor.setPosition(self._code.frame.lastPosition() + 1)
            self._reuse = True
            self._code = None
        self._emit(cursor, m, line, src, offset, self._line_ranges(line, src))
        if line.kind == "code" and self._code is not None:
            self._code.lines.append((src, offset))

    def _line_ranges(self, line: Line, src: str) -> Ranges:
        return highlight_lines([src], line.lang)[0] if line.kind == "code" and src else []

    def _relex_code(
        self, cursor: QTextCursor, m: MessageView, tail: tuple[Line, str, int] | None = None
    ) -> None:
        """Render the open code block's lines again, lexed as a whole (and the line being
        written after them, when given)."""
        code = self._code
        assert code is not None
        lines = list(code.lines)
        if tail is not None and tail[0].kind == "code":
            lines.append((tail[1], tail[2]))
        if code.first_pos < 0 or not lines:
            return
        cursor.setPosition(code.first_pos)
        cursor.setPosition(code.frame.lastPosition(), QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reuse = True
        ranges = highlight_lines([src for src, _ in lines], code.lang)
        last = -1
        for (src, offset), r in zip(lines, ranges, strict=True):
            line = Line("code", [Span(src, 0, CODE)] if src else [], lang=code.lang)
            last = self._emit(cursor, m, line, src, offset, r)
        if tail is not None:
            if tail[0].kind != "code":
                last = self._emit(cursor, m, tail[0], tail[1], tail[2], [])
            self._tail_pos = last
            self._after_tail = True

    def _clear_from(self, cursor: QTextCursor, pos: int) -> None:
        """Remove the rendering of the line being written (from its block to the end of the
        frame it is in), leaving its empty block to be reused."""
        cursor.setPosition(pos)
        block_fmt, char_fmt = cursor.blockFormat(), cursor.blockCharFormat()
        frame = cursor.currentFrame()
        end = frame.lastPosition() if frame is not None and frame != self.doc.rootFrame() else None
        if end is None:
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        else:
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._reuse = self._after_tail
        if not self._reuse:  # a code panel after a line was removed: that line keeps its look
            cursor.setBlockFormat(block_fmt)
            cursor.setBlockCharFormat(char_fmt)

    def _emit(
        self, cursor: QTextCursor, m: MessageView, line: Line, src: str, offset: int, ranges: Ranges
    ) -> int:
        """Render one line at the cursor; returns the position where its block starts."""
        if line.kind == "fence":
            return self._open_code(cursor, line, offset)
        block_fmt, char_fmt = self._block_formats(line)
        if self._reuse:
            cursor.setBlockFormat(block_fmt)
            cursor.setBlockCharFormat(char_fmt)
            self._reuse = False
        else:
            cursor.insertBlock(block_fmt, char_fmt)
        start = cursor.block().position()
        if line.kind == "code" and self._code is not None and self._code.first_pos < 0:
            self._code.first_pos = start
        for text, fmt in self._fragments(m, line, offset, len(src), ranges):
            cursor.insertText(text, fmt)
        return start

    def _open_code(self, cursor: QTextCursor, line: Line, offset: int) -> int:
        """A framed code panel with a header (language, Copy). Returns where clearing it
        must start: the end of the block it follows, or the empty block it was put in."""
        t = self.style.theme
        prev = cursor.block().previous()
        if self._reuse and prev.isValid() and QTextCursor(prev).currentFrame() == cursor.currentFrame():
            # the empty block left by the line being written: the panel follows the line before
            block_fmt, char_fmt = prev.blockFormat(), prev.charFormat()
            cursor.deletePreviousChar()
            cursor.setBlockFormat(block_fmt)
            cursor.setBlockCharFormat(char_fmt)
            self._reuse = False
        if self._reuse:
            cursor.setBlockFormat(self._blank_format(30))
            start = cursor.position()
        else:
            start = cursor.position()
            self._after_tail = False  # clearing this line leaves the previous block, not a new one
        ff = QTextFrameFormat()
        ff.setBackground(QColor(t.code_bg))
        ff.setBorder(1)
        ff.setBorderBrush(QBrush(QColor(t.border)))
        ff.setBorderStyle(QTextFrameFormat.BorderStyle.BorderStyle_Solid)
        ff.setPadding(8)
        ff.setTopMargin(6)
        ff.setBottomMargin(2)
        frame = cursor.insertFrame(ff)
        self._code = _OpenCode(frame, line.lang)
        header = QTextBlockFormat()
        header.setBottomMargin(4)
        cursor.setBlockFormat(header)
        label = self._fmt(("label",), muted=True, small=True)
        cursor.insertText(line.lang or "code", label)
        cursor.insertText("   ", label)
        link = QTextCharFormat(self._fmt(("copylink",), small=True, link=f"{COPY_SCHEME}:{offset}"))
        link.setToolTip("Copy this code block")
        cursor.insertText("Copy", link)
        after = QTextCursor(self.doc)
        after.setPosition(frame.lastPosition() + 1)
        after.setBlockFormat(self._blank_format(30))  # the block after the panel: its bottom gap
        self._reuse = False
        return start

    # --- formats -----------------------------------------------------------------------------------
    def _blank_format(self, height: int = 55) -> QTextBlockFormat:
        f = QTextBlockFormat()
        f.setLineHeight(height, _PROPORTIONAL)
        return f

    def _base_char(self) -> QTextCharFormat:
        f = QTextCharFormat()
        f.setFont(self.style.font)
        f.setForeground(QColor(self.style.theme.text))
        return f

    def _block_formats(self, line: Line) -> tuple[QTextBlockFormat, QTextCharFormat]:
        bf = QTextBlockFormat()
        cf = self._base_char()
        kind = line.kind
        if kind == "blank":
            return self._blank_format(), cf
        if kind in ("code", "fence_end"):
            cf.setFont(self.style.mono)
            if kind == "fence_end":
                return self._blank_format(45), cf
            return bf, cf
        bf.setLineHeight(125, _PROPORTIONAL)
        if kind == "heading":
            bf.setTopMargin(6)
            bf.setBottomMargin(2)
        elif kind in ("bullet", "ordered"):
            bf.setLeftMargin(18 * (line.level + 1))
            bf.setTextIndent(-14)
        elif kind == "quote":
            bf.setLeftMargin(14)
        elif kind == "rule":
            bf.setProperty(
                QTextFormat.Property.BlockTrailingHorizontalRulerWidth,
                QTextLength(QTextLength.Type.PercentageLength, 100),
            )
        return bf, cf

    def _fmt(
        self,
        key: tuple[object, ...],
        *,
        style: int = 0,
        heading: int = 0,
        mono: bool = False,
        muted: bool = False,
        small: bool = False,
        role: str = "",
        link: str = "",
        mark: str = "",
    ) -> QTextCharFormat:
        cached = self._formats.get(key)
        if cached is not None:
            return cached
        t = self.style.theme
        f = QTextCharFormat()
        font = QFont(self.style.mono if (mono or style & CODE) else self.style.font)
        if small:
            font.setPointSizeF(font.pointSizeF() * 0.85)
        if heading:
            font.setPointSizeF(font.pointSizeF() * _HEADING_SCALE.get(heading, 1.05))
            font.setWeight(QFont.Weight.Bold)
        if style & BOLD:
            font.setWeight(QFont.Weight.Bold)
        font.setItalic(bool(style & ITALIC) or mark == REJECTED)
        font.setStrikeOut(bool(style & STRIKE) or mark == REJECTED)
        f.setFont(font)
        colour = t.text
        if muted:
            colour = t.muted
        if role:
            colour = getattr(t, role)
        if style & CODE and not mono:
            f.setBackground(QColor(t.code_bg))
        if link or style & LINK:
            colour = t.accent
            f.setFontUnderline(True)
            if link:
                f.setAnchor(True)
                f.setAnchorHref(link)
        if mark == DRAFT:
            f.setBackground(QColor(t.draft_bg))
            if not mono and not role:
                colour = t.draft
        elif mark == REJECTED:
            colour = t.rejected
        f.setForeground(QColor(colour))
        self._formats[key] = f
        return f

    def _fragments(
        self, m: MessageView, line: Line, offset: int, length: int, ranges: Ranges
    ) -> list[tuple[str, QTextCharFormat]]:
        s = self.style
        visual = self.tokens and s.visualize
        mono = line.kind in ("code", "table", "table_rule")
        muted = line.kind in ("quote", "table_rule")
        heading = line.level if line.kind == "heading" else 0
        ghosts = m.rejected_between(offset, offset + length) if self.tokens and s.show_rejected else []
        gi = 0
        out: list[tuple[str, QTextCharFormat]] = []

        def plain_fmt(style: int, href: str, role: str, origin: str) -> QTextCharFormat:
            mark = DRAFT if visual and origin == DRAFT else ""
            key = (style, href, role, mark, mono, muted, heading)
            return self._fmt(
                key, style=style, heading=heading, mono=mono, muted=muted, role=role, link=href, mark=mark
            )

        def ghost(at: int) -> None:
            nonlocal gi
            while gi < len(ghosts) and ghosts[gi][0] <= at:
                _, rnd, text = ghosts[gi]
                f = QTextCharFormat(self._fmt(("ghost", mono), mono=mono, mark=REJECTED))
                f.setProperty(ORIGIN_PROP, REJECTED)
                f.setProperty(ROUND_PROP, rnd)
                f.setProperty(PROPOSED_PROP, text)
                out.append((text.replace("\n", "↵"), f))
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
                        if rnd is not None:
                            f.setProperty(ROUND_PROP, rnd)
                    out.append((span.text[sa - a : sb - a], f))
        ghost(offset + length)
        return out
