"""The transcript: message cards in a centred column of readable width, streamed in batches.

A reply in progress grows at its end only (see document.py), so a batch costs the same
at token 20,000 as at token 20; the live strip under it shows speed and what drafting does.
Toggling the visualization, rejected drafts or the theme re-renders every card and keeps
the reader where they were.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QFontMetricsF, QResizeEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from app.chat.message_model import MessageView
from app.chat.reply_stats import ReplyStats
from app.chat.stream_batch import DRAFT, LiveStats, StreamBatch
from app.ui.chat.transcript.card import MessageCard
from app.ui.chat.transcript.formats import ORIGIN_PROP, RenderStyle
from app.ui.theme.colours import LIGHT, Theme

COLUMN_CHARS = 78  # a readable line length
STICK_PX = 48  # this close to the bottom, new text keeps the view at the bottom
EMPTY_TEXT = "Ask something. Replies stream in; tokens the draft model got right turn green."


class ChatView(QScrollArea):
    actionRequested = Signal(str, object)  # action key, MessageView

    def __init__(self, parent: QWidget | None = None, theme: Theme = LIGHT) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF(), 10.0) * 1.05)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(font.pointSizeF() * 0.92)
        self.render_style = RenderStyle(theme=theme, font=font, mono=mono)
        self.messages: list[MessageView] = []
        self.cards: list[MessageCard] = []
        self.streaming: MessageView | None = None
        self.live = LiveStats()
        self._with_draft = False
        self._reasons: dict[str, str] = {}  # action -> why it cannot run now
        self._stick = True

        canvas = QWidget()
        canvas.setObjectName("transcriptCanvas")
        self.column = QWidget(canvas)
        self.column.setObjectName("transcriptColumn")
        self.column_layout = QVBoxLayout(self.column)
        self.column_layout.setContentsMargins(0, 16, 0, 24)
        self.column_layout.setSpacing(14)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("emptyTranscript")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.column_layout.addWidget(self.empty)
        self.column_layout.addStretch(1)
        self.canvas_layout = QVBoxLayout(canvas)
        self.canvas_layout.setContentsMargins(16, 0, 16, 0)
        self.canvas_layout.addWidget(self.column, 0, Qt.AlignmentFlag.AlignHCenter)
        self.canvas = canvas
        self.setWidget(canvas)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)
        self.viewport().installEventFilter(self)

    # --- layout ---------------------------------------------------------------------------------
    def column_width(self) -> int:
        fm = self.fontMetrics()
        sample = "The quick brown fox jumps over the lazy dog, "
        per_char = fm.horizontalAdvance(sample) / len(sample) * self.render_style.font.pointSizeF()
        per_char /= max(1.0, self.font().pointSizeF())
        return int(per_char * COLUMN_CHARS) + 40

    def _fit_column(self) -> None:
        available = max(200, self.viewport().width() - 32)
        width = min(available, self.column_width())
        self.column.setFixedWidth(width)
        for card in self.cards:
            self._fit_card(card, width)

    def _fit_card(self, card: MessageCard, width: int) -> None:
        if card.message.role != "user":
            return
        if card.editor is not None:
            card.setFixedWidth(width)
            return
        widest = int(width * 0.85)
        card.setFixedWidth(max(160, min(widest, self._natural_width(card, widest))))

    @staticmethod
    def _natural_width(card: MessageCard, widest: int) -> int:
        """The card's width with its text unwrapped, measured on the text as drawn (its own
        fonts and formats): a message that fits is never wrapped before its last word."""
        m, c = card.layout_.contentsMargins(), card.contentsMargins()
        chrome = m.left() + m.right() + c.left() + c.right() + 2 * card.body.frameWidth() + 2
        rough = QFontMetricsF(card.body.font()).horizontalAdvance(card.message.text)
        if rough > 2 * widest:  # wraps anyway: no need to lay it out unwrapped
            return widest
        doc = card.body.document().clone()
        doc.setTextWidth(-1)
        return math.ceil(doc.idealWidth()) + chrome

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if obj is self.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_column()
        return super().eventFilter(obj, event)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_column()

    # --- whole transcript -----------------------------------------------------------------------
    def set_messages(self, messages: list[MessageView]) -> None:
        for card in self.cards:
            card.setParent(None)
            card.deleteLater()
        self.cards = []
        self.messages = []
        self.streaming = None
        for m in messages:
            self._add_card(m)
        self.empty.setVisible(not messages)
        self._update_actions()
        self._stick = True
        self._scroll_to_end()

    def add_message(self, m: MessageView) -> None:
        self._add_card(m)
        self._update_actions()
        self._stick = True
        self._scroll_to_end()

    def _add_card(self, m: MessageView, title: str = "") -> MessageCard:
        if not title and m.stats is not None:
            title = m.stats.model_name
        card = MessageCard(m, self.render_style, title)
        card.actionTriggered.connect(lambda key, m=m: self.actionRequested.emit(key, m))
        self.messages.append(m)
        self.cards.append(card)
        self.column_layout.insertWidget(self.column_layout.count() - 1, card)
        self.empty.hide()
        self._fit_card(card, self.column.width())
        return card

    def set_render_style(self, **changes: Any) -> None:
        """Theme, visualize or show_rejected changed: every card again, same place on screen."""
        style = replace(self.render_style, **changes)
        if style == self.render_style:
            return
        self.render_style = style
        anchor = self._anchor()
        for card in self.cards:
            card.set_style(style)
        self._restore(anchor)

    def set_theme(self, theme: Theme) -> None:
        self.set_render_style(theme=theme)

    def set_visualize(self, on: bool) -> None:
        self.set_render_style(visualize=on)

    def set_show_rejected(self, on: bool) -> None:
        self.set_render_style(show_rejected=on)

    @property
    def visualize(self) -> bool:
        return self.render_style.visualize

    # --- streaming ------------------------------------------------------------------------------
    def begin_stream(
        self,
        continuing: MessageView | None = None,
        title: str = "",
        with_draft: bool = False,
        live: LiveStats | None = None,
    ) -> MessageView:
        """Start a reply; with `continuing`, the last assistant message grows instead. `live`:
        the reply's running numbers when it started earlier (shown again after a switch)."""
        self.live = live if live is not None else LiveStats()
        self._with_draft = with_draft
        if continuing is not None and self.messages and self.messages[-1] is continuing:
            self.streaming = continuing
            if title:
                self.cards[-1].set_title(title)
        else:
            self.streaming = MessageView("assistant")
            self._add_card(self.streaming, title)
        self.cards[-1].set_live(self.live, with_draft)
        self._update_actions()
        self._stick = True
        self._scroll_to_end()
        return self.streaming

    def set_stream_pair(self, title: str, with_draft: bool) -> None:
        """The pair the reply in progress runs on, once the engine thread says."""
        if self.streaming is None or not self.cards:
            return
        self._with_draft = with_draft
        if title:
            self.cards[-1].set_title(title)
        if self.live.tokens:
            self.cards[-1].set_live(self.live, with_draft)

    def append_batch(self, batch: StreamBatch) -> None:
        """One batch from the engine thread: text appended at the end, the live strip updated."""
        m = self.streaming
        if m is None:
            return
        self.live.update(batch)
        if batch.pieces:
            m.append(batch.pieces)
            self.cards[-1].extend()
        self.cards[-1].set_live(self.live, self._with_draft)

    def append_tokens(self, tokens: list[tuple[Any, ...]]) -> None:
        """(text, origin[, round]) pieces as one batch (tests, benchmarks)."""
        pieces = [(t[0], t[1], int(t[2]) if len(t) > 2 else 0) for t in tokens]
        self.append_batch(StreamBatch(pieces=pieces, tokens=len(pieces)))

    def end_stream(self, stats: ReplyStats | None) -> MessageView | None:
        """The reply is done: its stats replace the live strip; the text stays as it is."""
        m = self.streaming
        if m is None:
            return None
        m.stats = stats
        self.streaming = None
        card = self.cards[-1]
        if stats is not None and stats.model_name:
            card.set_title(stats.model_name)
        card.finish()
        self._update_actions()
        return m

    # --- actions ----------------------------------------------------------------------------------
    def set_action_reasons(self, reasons: dict[str, str]) -> None:
        """Why each action cannot run now ("" or absent when it can): shown disabled, saying why."""
        self._reasons = dict(reasons)
        self._update_actions()

    def _update_actions(self) -> None:
        last_user = max((i for i, m in enumerate(self.messages) if m.role == "user"), default=-1)
        last = len(self.messages) - 1
        for i, (m, card) in enumerate(zip(self.messages, self.cards, strict=True)):
            keys: set[str] = set()
            if m is not self.streaming:
                keys.add("copy")
            if self.streaming is None:  # mid-reply there is nothing to edit or retry yet
                if m.role == "user" and i == last_user and card.editor is None:
                    keys.add("edit")
                if m.role == "assistant" and i == last:
                    keys |= {"regenerate", "continue"}
            card.set_actions(keys, self._reasons)

    def set_reading(self, seconds: float) -> None:
        """The reply has not started: the model is still reading the conversation."""
        if self.streaming is not None and self.cards:
            self.cards[-1].set_reading(seconds)

    def begin_edit(self) -> MessageCard | None:
        """Your last message becomes an editor where it stands."""
        last_user = max((i for i, m in enumerate(self.messages) if m.role == "user"), default=-1)
        if last_user < 0:
            return None
        card = self.cards[last_user]
        editor = card.begin_edit()
        card.setFixedWidth(self.column.width())
        # Esc ends the edit in the card: the bubble takes its own width again
        editor.cancelled.connect(self._refit_after_edit)
        self._update_actions()
        return card

    def _refit_after_edit(self) -> None:
        for card in self.cards:
            if card.editor is None:
                self._fit_card(card, self.column.width())
        self._update_actions()

    def end_edit(self) -> None:
        for card in self.cards:
            if card.editor is not None:
                card.end_edit()
                self._fit_card(card, self.column.width())
        self._update_actions()

    def editing(self) -> MessageCard | None:
        return next((c for c in self.cards if c.editor is not None), None)

    # --- scrolling --------------------------------------------------------------------------------
    def _on_range_changed(self, _lo: int, hi: int) -> None:
        if self._stick:
            self.verticalScrollBar().setValue(hi)

    def _on_scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick = value >= bar.maximum() - STICK_PX

    def _scroll_to_end(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _anchor(self) -> tuple[int, int] | None:
        """The first card in view and how far into it the view starts (None: at the bottom)."""
        if self._stick:
            return None
        top = self.verticalScrollBar().value()
        for i, card in enumerate(self.cards):
            y = card.mapTo(self.canvas, card.rect().topLeft()).y()
            if y + card.height() > top:
                return i, top - y
        return None

    def _restore(self, anchor: tuple[int, int] | None) -> None:
        def restore() -> None:
            self.canvas_layout.activate()
            self.column_layout.activate()
            if anchor is None or anchor[0] >= len(self.cards):
                self._stick = True
                self._scroll_to_end()
                return
            card = self.cards[anchor[0]]
            y = card.mapTo(self.canvas, card.rect().topLeft()).y()
            self.verticalScrollBar().setValue(y + anchor[1])

        restore()
        QTimer.singleShot(0, restore)  # again once the cards' new heights are laid out

    # --- reading it back (tests, copying) ---------------------------------------------------------
    def plain_text(self) -> str:
        return "\n\n".join(card.plain_text() for card in self.cards)

    def draft_spans(self) -> list[list[tuple[int, int]]]:
        """Per card, (start, end) document positions shown as accepted draft tokens."""
        out = []
        for card in self.cards:
            spans: list[tuple[int, int]] = []
            doc = card.body.document()
            block = doc.begin()
            while block.isValid():
                it = block.begin()
                while not it.atEnd():
                    frag = it.fragment()
                    if self.visualize and frag.charFormat().property(ORIGIN_PROP) == DRAFT:
                        start, end = frag.position(), frag.position() + frag.length()
                        if spans and spans[-1][1] == start:
                            spans[-1] = (spans[-1][0], end)
                        else:
                            spans.append((start, end))
                    it += 1
                block = block.next()
            out.append(spans)
        return out

    def draft_text(self) -> str:
        """Every character shown as an accepted draft token, in order."""
        parts: list[str] = []
        for card, spans in zip(self.cards, self.draft_spans(), strict=True):
            text = card.body.document().toPlainText()
            parts.extend(text[s:e] for s, e in spans)
        return "".join(parts)
