"""The chat transcript: Markdown replies, streamed in batches, with accepted draft tokens in green.

While a reply streams, each batch is inserted at the end of the document as plain runs, so
appending costs the same at token 20,000 as at token 20. When the reply ends it is rendered
once as Markdown and the draft tokens' characters are coloured again on the rendered text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QEvent, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QHelpEvent,
    QImage,
    QPainter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextDocumentFragment,
    QTextFormat,
    QTextImageFormat,
)
from PySide6.QtWidgets import QTextBrowser, QToolTip, QWidget

from app.chat.stats_text import stats_line
from app.chat.store import OriginRuns, merge_runs

DRAFT = "draft"
DRAFT_TOOLTIP = "Accepted draft token"
DRAFT_COLOR = QColor("#1f9d55")


@dataclass
class MessageView:
    role: str
    text: str = ""
    origins: OriginRuns = field(default_factory=list)
    stats: dict[str, Any] | None = None


_WINDOW = 64  # how far ahead a markup run may reach when aligning


def _align(source: str, rendered: str) -> list[int]:
    """For each rendered character, the source index it shows (-1 for none). Linear time:
    Markdown deletes markup (`**`, `#`, fences) and may change whitespace, so a rendered
    character is looked for a little ahead in the source; when it is not there it is a
    character Markdown added, and is skipped."""
    src = "".join(" " if c.isspace() else c for c in source)
    out = [-1] * len(rendered)
    i = 0
    for j, ch in enumerate(rendered):
        if ch.isspace():
            ch = " "
        k = src.find(ch, i, i + _WINDOW)
        if k >= 0:
            out[j] = k
            i = k + 1
    return out


def draft_ranges(source: str, origins: OriginRuns, rendered: str) -> list[tuple[int, int]]:
    """Where the draft characters of `source` landed in `rendered`."""
    flags = bytearray(len(source))
    pos = 0
    for n, origin in origins:
        if origin == DRAFT:
            flags[pos : pos + n] = b"\x01" * max(0, min(n, len(source) - pos))
        pos += n
    if not any(flags):
        return []
    mapping = range(len(source)) if rendered == source else _align(source, rendered)
    ranges: list[tuple[int, int]] = []
    for j, i in enumerate(mapping):
        if i >= 0 and flags[i]:
            if ranges and ranges[-1][1] == j:
                ranges[-1] = (ranges[-1][0], j + 1)
            else:
                ranges.append((j, j + 1))
    return ranges


def acceptance_chart(rounds: list[list[int]], height: int = 18, max_bars: int = 160) -> QImage:
    """Bars per round (rounds beyond max_bars are merged), grey for drafted, green for accepted."""
    if len(rounds) > max_bars:
        step = -(-len(rounds) // max_bars)
        rounds = [
            [sum(r[0] for r in rounds[i : i + step]), sum(r[1] for r in rounds[i : i + step])]
            for i in range(0, len(rounds), step)
        ]
    bar = 3
    image = QImage(max(1, len(rounds) * bar), height, QImage.Format.Format_ARGB32)
    image.fill(QColor(0, 0, 0, 0))
    top = max((d for d, _ in rounds), default=1) or 1
    painter = QPainter(image)
    for i, (drafted, accepted) in enumerate(rounds):
        x = i * bar
        h = round(height * drafted / top)
        painter.fillRect(x, height - h, bar - 1, h, QColor("#d1d5db"))
        h = round(height * accepted / top)
        painter.fillRect(x, height - h, bar - 1, h, DRAFT_COLOR)
    painter.end()
    return image


class ChatView(QTextBrowser):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenLinks(False)
        self.document().setUndoRedoEnabled(False)  # a transcript has nothing to undo
        self.setObjectName("chatView")
        self.visualize = True
        self.messages: list[MessageView] = []
        self.streaming: MessageView | None = None
        self._stream_anchor = 0
        self._charts = 0
        self._plain = QTextCharFormat()
        self._draft = QTextCharFormat()
        self._draft.setForeground(DRAFT_COLOR)
        self._draft.setToolTip(DRAFT_TOOLTIP)
        self._stats_fmt = QTextCharFormat()
        self._stats_fmt.setForeground(QColor("#6b7280"))
        small = QFont(self.font())
        small.setPointSizeF(max(6.0, small.pointSizeF() * 0.85))
        self._stats_fmt.setFont(small)
        self._role_fmt = QTextCharFormat()
        self._role_fmt.setFontWeight(QFont.Weight.Bold)

    # --- whole transcript --------------------------------------------------------------------
    def set_messages(self, messages: list[MessageView]) -> None:
        self.messages = list(messages)
        self.streaming = None
        self.rerender()

    def set_visualize(self, on: bool) -> None:
        if on != self.visualize:
            self.visualize = on
            self.rerender()

    def rerender(self) -> None:
        self.document().clear()
        for m in self.messages:
            self._render(m)
        if self.streaming is not None:
            self._begin_stream_block(self.streaming)
        self._scroll_to_end()

    # --- streaming ---------------------------------------------------------------------------
    def begin_stream(self, continuing: MessageView | None = None) -> MessageView:
        """Start a reply; with `continuing`, the last assistant message grows instead."""
        if continuing is not None and self.messages and self.messages[-1] is continuing:
            self.messages.pop()
            self.streaming = continuing
            self.rerender()
        else:
            self.streaming = MessageView("assistant")
            self._begin_stream_block(self.streaming)
        return self.streaming

    def _begin_stream_block(self, m: MessageView) -> None:
        cursor = self._end_cursor()
        self._stream_anchor = cursor.position()
        self._insert_role(cursor, m.role)
        cursor.insertBlock()
        pos = 0
        for n, origin in m.origins:
            self._insert_run(cursor, m.text[pos : pos + n], origin)
            pos += n
        if pos < len(m.text):
            cursor.insertText(m.text[pos:], self._plain)

    def append_tokens(self, batch: list[tuple[str, str]]) -> None:
        """One batch of (text, origin) pieces: inserted at the end, nothing re-rendered."""
        m = self.streaming
        if m is None or not batch:
            return
        cursor = self._end_cursor()
        runs: list[list[Any]] = []
        texts: list[str] = []
        for text, origin in batch:
            if not text:
                continue
            texts.append(text)
            if runs and runs[-1][1] == origin:
                runs[-1][0] += text
            else:
                runs.append([text, origin])
        cursor.beginEditBlock()
        for text, origin in runs:
            self._insert_run(cursor, text, origin)
        cursor.endEditBlock()
        m.text += "".join(texts)
        merge_runs(((len(t), o) for t, o in runs), m.origins)
        bar = self.verticalScrollBar()
        if bar.value() >= bar.maximum() - 40:
            bar.setValue(bar.maximum())

    def end_stream(self, stats: dict[str, Any] | None) -> MessageView | None:
        """The reply is done: render it as Markdown with its stats line."""
        m = self.streaming
        if m is None:
            return None
        m.stats = stats
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._stream_anchor)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self.streaming = None
        self.messages.append(m)
        self._render(m)
        self._scroll_to_end()
        return m

    # --- rendering -----------------------------------------------------------------------------
    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    def _insert_run(self, cursor: QTextCursor, text: str, origin: str) -> None:
        fmt = self._draft if (self.visualize and origin == DRAFT) else self._plain
        cursor.insertText(text, fmt)

    def _insert_role(self, cursor: QTextCursor, role: str) -> None:
        if not self.document().isEmpty():
            cursor.insertBlock()
        label = {"user": "You", "assistant": "Assistant", "system": "System"}.get(role, role)
        cursor.insertText(label, self._role_fmt)

    def _render(self, m: MessageView) -> None:
        cursor = self._end_cursor()
        self._insert_role(cursor, m.role)
        cursor.insertBlock()
        if m.role == "assistant":
            doc = QTextDocument()
            doc.setDefaultFont(self.font())
            doc.setMarkdown(m.text, QTextDocument.MarkdownFeature.MarkdownDialectGitHub)
            if self.visualize:
                self._colour_drafts(doc, m)
            cursor.insertFragment(QTextDocumentFragment(doc))
        else:
            cursor.insertText(m.text, self._plain)
        if m.stats:
            cursor.insertBlock()
            cursor.insertText(stats_line(m.stats), self._stats_fmt)
            rounds = m.stats.get("rounds") or []
            if any(drafted for drafted, _ in rounds):
                cursor.insertText("  ", self._stats_fmt)
                self._insert_round_chart(cursor, rounds)
        cursor.setCharFormat(self._plain)

    def _insert_round_chart(self, cursor: QTextCursor, rounds: list[list[int]]) -> None:
        """A small chart of the reply's rounds: grey = drafted, green = accepted."""
        image = acceptance_chart(rounds)
        self._charts += 1
        name = f"specula-chart-{self._charts}"
        self.document().addResource(QTextDocument.ResourceType.ImageResource, QUrl(name), image)
        fmt = QTextImageFormat()
        fmt.setName(name)
        fmt.setWidth(image.width())
        fmt.setHeight(image.height())
        accepted = sum(a for _, a in rounds)
        drafted = sum(d for d, _ in rounds)
        fmt.setToolTip(
            f"Acceptance per round: {len(rounds)} rounds, {accepted}/{drafted} draft tokens accepted "
            "(grey: drafted, green: accepted)"
        )
        cursor.insertImage(fmt)

    def _colour_drafts(self, doc: QTextDocument, m: MessageView) -> None:
        rendered = doc.toPlainText()
        doc.setUndoRedoEnabled(False)
        c = QTextCursor(doc)
        c.beginEditBlock()  # one layout pass for all ranges, not one per range
        for start, end in draft_ranges(m.text, m.origins, rendered):
            c.setPosition(start)
            c.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            c.mergeCharFormat(self._draft)
        c.endEditBlock()

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    # --- reading it back -------------------------------------------------------------------
    def draft_spans(self) -> list[tuple[int, int]]:
        """(start, end) document positions coloured as accepted draft tokens (for tests)."""
        spans: list[tuple[int, int]] = []
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                frag = it.fragment()
                if frag.charFormat().toolTip() == DRAFT_TOOLTIP:
                    start, end = frag.position(), frag.position() + frag.length()
                    if spans and spans[-1][1] == start:
                        spans[-1] = (spans[-1][0], end)
                    else:
                        spans.append((start, end))
                it += 1
            block = block.next()
        return spans

    def draft_text(self) -> str:
        text = self.document().toPlainText()
        return "".join(text[s:e] for s, e in self.draft_spans())

    # --- tooltips and copying code -------------------------------------------------------
    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            fmt = self.cursorForPosition(event.pos()).charFormat()
            if fmt.toolTip():
                QToolTip.showText(event.globalPos(), fmt.toolTip(), self)
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)

    def code_block_at(self, cursor: QTextCursor) -> str | None:
        """The whole fenced code block around `cursor`, or None outside one."""
        block = cursor.block()
        if not block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeFence):
            return None
        first = block
        while first.previous().isValid() and first.previous().blockFormat().hasProperty(
            QTextFormat.Property.BlockCodeFence
        ):
            first = first.previous()
        lines = []
        b = first
        while b.isValid() and b.blockFormat().hasProperty(QTextFormat.Property.BlockCodeFence):
            lines.append(b.text())
            b = b.next()
        return "\n".join(lines)

    def contextMenuEvent(self, event: Any) -> None:
        menu = self.createStandardContextMenu(event.pos())
        code = self.code_block_at(self.cursorForPosition(event.pos()))
        if code is not None:
            action = menu.addAction("Copy code block")
            action.triggered.connect(lambda: QGuiApplication.clipboard().setText(code))
        menu.exec(event.globalPos())
        menu.deleteLater()
