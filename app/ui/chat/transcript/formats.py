"""How a message's text looks: the block and character formats the renderer uses, all in the
theme's colours, and what the format of a character tells its tooltip (origin, round, what
the draft proposed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import (
    QColor,
    QFont,
    QTextBlockFormat,
    QTextCharFormat,
    QTextFormat,
    QTextLength,
)

from app.chat.markdown_lines import BOLD, CODE, ITALIC, LINK, STRIKE, Line
from app.chat.stream_batch import DRAFT, REJECTED
from app.ui.theme.colours import LIGHT, Theme

_USER = QTextFormat.Property.UserProperty.value
ORIGIN_PROP = _USER + 1  # "main", "draft" or "rejected" (only while the visualization is on)
ROUND_PROP = _USER + 2  # the verify step that produced the character, when the engine said
PROPOSED_PROP = _USER + 3  # what the draft proposed, on rejected ghost text
PANEL_PROP = _USER + 4  # on a block's format: which part of a code panel it is (PANEL_*)
PANEL_HEADER, PANEL_LINE, PANEL_END = 1, 2, 3
PANEL_PAD = 10  # the panel reaches this far around its text
COPY_SCHEME = "copy"  # copy:<offset of the fence line>: the Copy link of a code panel
_PROPORTIONAL = QTextBlockFormat.LineHeightTypes.ProportionalHeight.value
_HEADING_SCALE = {1: 1.5, 2: 1.3, 3: 1.15}


@dataclass
class RenderStyle:
    theme: Theme = LIGHT
    visualize: bool = True
    show_rejected: bool = False
    font: QFont = field(default_factory=QFont)
    mono: QFont = field(default_factory=lambda: QFont("monospace"))


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


class Formats:
    """Formats for one style; character formats are cached by what sets them apart."""

    def __init__(self, style: RenderStyle) -> None:
        self.style = style
        self._chars: dict[tuple[object, ...], QTextCharFormat] = {}

    def blank(self, height: int = 55) -> QTextBlockFormat:
        """An empty line, shorter than a line of text (a gap, not a hole)."""
        f = QTextBlockFormat()
        f.setLineHeight(height, _PROPORTIONAL)
        return f

    def base_char(self) -> QTextCharFormat:
        f = QTextCharFormat()
        f.setFont(self.style.font)
        f.setForeground(QColor(self.style.theme.text))
        return f

    def block(self, line: Line) -> tuple[QTextBlockFormat, QTextCharFormat]:
        bf = QTextBlockFormat()
        cf = self.base_char()
        kind = line.kind
        if kind == "blank":
            return self.blank(), cf
        if kind in ("code", "fence_end"):
            cf.setFont(self.style.mono)
            if kind == "fence_end":
                bf = self.blank(45)
                bf.setBottomMargin(8)  # room below the panel
            bf.setLeftMargin(PANEL_PAD)
            bf.setRightMargin(PANEL_PAD)
            bf.setProperty(PANEL_PROP, PANEL_END if kind == "fence_end" else PANEL_LINE)
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

    def code_header(self) -> tuple[QTextBlockFormat, QTextCharFormat]:
        bf = QTextBlockFormat()
        bf.setTopMargin(PANEL_PAD + 6)  # room above the panel, and inside it above the header
        bf.setBottomMargin(4)
        bf.setLeftMargin(PANEL_PAD)
        bf.setRightMargin(PANEL_PAD)
        bf.setProperty(PANEL_PROP, PANEL_HEADER)
        return bf, self.base_char()

    def char(
        self,
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
        """The format of shown text: markup `style` bits, a code `role` colour, a link, and
        `mark` (DRAFT: accepted draft token, REJECTED: ghost text)."""
        key = (style, heading, mono, muted, small, role, link, mark)
        cached = self._chars.get(key)
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
        colour = t.muted if muted else t.text
        if role:
            colour = getattr(t, role)
        if style & CODE and not mono:
            f.setBackground(QColor(t.surface_alt))  # inline code
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
        self._chars[key] = f
        return f
