"""One message as a card: who speaks, the rendered text, and for a reply the live strip while
it streams, then its stats, an expandable speculation panel and icon actions."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, QSizeF, Qt, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QDesktopServices,
    QGuiApplication,
    QHelpEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QTextBlock,
    QTextCharFormat,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTextBrowser,
    QToolButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.chat.markdown_lines import code_block_text
from app.chat.message_model import MessageView
from app.chat.stats_text import draft_parts, has_details, live_text, speed_parts, stats_line
from app.chat.stream_batch import LiveStats
from app.ui.chat.inline_editor import InlineEditor
from app.ui.chat.transcript.document import MessageRenderer
from app.ui.chat.transcript.formats import (
    COPY_SCHEME,
    PANEL_HEADER,
    PANEL_PAD,
    PANEL_PROP,
    RenderStyle,
    token_tooltip,
)
from app.ui.chat.transcript.speculation_panel import SpeculationPanel
from app.ui.theme.icons import icon

ROLE_NAMES = {"user": "You", "assistant": "Assistant", "system": "System"}
ACTIONS = {
    "copy": ("copy", "Copy"),
    "edit": ("edit", "Edit and resend (Ctrl+E)"),
    "regenerate": ("regenerate", "Regenerate: the current reply is kept as a version (Ctrl+R)"),
    "continue": ("continue", "Continue this reply (Ctrl+Shift+R)"),
}
PREVIOUS, NEXT = "previous_version", "next_version"


def _panel(block: QTextBlock) -> int:
    return int(block.blockFormat().intProperty(PANEL_PROP))


class MessageBody(QTextBrowser):
    """Read-only rich text as tall as its content: the transcript scrolls, not the message."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBody")
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().setDocumentMargin(0)
        self.document().setUndoRedoEnabled(False)
        self.viewport().setAutoFillBackground(False)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self.setFixedHeight(8)
        self.panel_colours = ("#f6f8fa", "#d8dce2")  # code panel background, border

    def paintEvent(self, event: QPaintEvent) -> None:
        """Code panels behind the text: rounded, padded, in the theme's colours."""
        rects = self.panel_rects(event.rect().top(), event.rect().bottom())
        if rects:
            painter = QPainter(self.viewport())
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setPen(QPen(QColor(self.panel_colours[1]), 1))
            painter.setBrush(QColor(self.panel_colours[0]))
            for rect in rects:
                painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
            painter.end()
        super().paintEvent(event)

    def panel_rects(self, top: float, bottom: float) -> list[QRectF]:
        """The code panels that reach into [top, bottom] (viewport coordinates)."""
        doc = self.document()
        layout = doc.documentLayout()
        pos = layout.hitTest(QPointF(4, max(0.0, top)), Qt.HitTestAccuracy.FuzzyHit)
        block = doc.findBlock(max(0, pos))
        while block.isValid() and _panel(block) not in (0, PANEL_HEADER):
            block = block.previous()  # back to the header of a panel that starts above
        spans: list[list[float]] = []  # [top, bottom] of each panel's blocks
        while block.isValid():
            kind = _panel(block)
            rect = layout.blockBoundingRect(block)
            if kind == PANEL_HEADER or (kind and not spans):
                spans.append([rect.top(), rect.bottom()])
            elif kind:
                spans[-1][1] = rect.bottom()
            elif rect.top() > bottom:
                break
            block = block.next()
        width = self.viewport().width()
        return [QRectF(0, t - PANEL_PAD, width, b - t + PANEL_PAD + 2) for t, b in spans if b + 2 >= top]

    def _fit(self, size: QSizeF) -> None:
        height = max(8, math.ceil(size.height()))
        if height != self.height():
            self.setFixedHeight(height)
            # The card's size in the transcript is cached per width by the column's layout;
            # the card's own geometry update is what drops that cache (without it a reopened
            # reply keeps the height it had before its text was laid out: the stats land on
            # the text, and the actions below the card's edge).
            card = self.parentWidget()
            if card is not None:
                card.updateGeometry()

    def sizeHint(self) -> QSize:
        return QSize(400, self.height())

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the transcript scrolls

    def format_at(self, pos: Any) -> QTextCharFormat | None:
        """The character format under a viewport point, or None off the text."""
        layout = self.document().documentLayout()
        p = layout.hitTest(pos, Qt.HitTestAccuracy.ExactHit)
        if p < 0:
            return None
        block = self.document().findBlock(p)
        it = block.begin()
        while not it.atEnd():
            frag = it.fragment()
            if frag.position() <= p < frag.position() + frag.length():
                return frag.charFormat()
            it += 1
        return None

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            fmt = self.format_at(event.pos())
            tip = (token_tooltip(fmt) or fmt.toolTip()) if fmt is not None else ""
            if tip:
                QToolTip.showText(event.globalPos(), tip, self)
            else:
                QToolTip.hideText()
            return True
        return super().viewportEvent(event)


class MessageCard(QFrame):
    actionTriggered = Signal(str)  # a key of ACTIONS

    def __init__(self, message: MessageView, style: RenderStyle, title: str = "") -> None:
        super().__init__()
        self.message = message
        self.style_ = style
        self.setObjectName("messageCard")
        self.setProperty("role", message.role)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.layout_ = layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 10)
        layout.setSpacing(6)
        self.header = QLabel(title or ROLE_NAMES.get(message.role, message.role))
        self.header.setObjectName("cardHeader")
        self.body = MessageBody()
        self.body.anchorClicked.connect(self._on_anchor)
        self.renderer = MessageRenderer(self.body.document(), style, tokens=message.role == "assistant")
        layout.addWidget(self.header)
        layout.addWidget(self.body)

        self.live = QLabel()
        self.live.setObjectName("liveStrip")
        self.live.setWordWrap(True)
        self.live.hide()
        self.stats_label = QLabel()
        self.stats_label.setObjectName("statsStrip")
        self.stats_label.setWordWrap(True)
        self.stats_label.setTextFormat(Qt.TextFormat.PlainText)
        self.details_button = QToolButton()
        self.details_button.setObjectName("detailsToggle")
        self.details_button.setText("Speculation details")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.toggled.connect(self._on_details_toggled)
        self.details: SpeculationPanel | None = None
        self.action_buttons: dict[str, QToolButton] = {}
        footer = QHBoxLayout()
        footer.setContentsMargins(0, 0, 0, 0)
        footer.setSpacing(2)
        for key, (icon_name, tip) in ACTIONS.items():
            b = QToolButton()
            b.setObjectName("cardAction")
            b.setToolTip(tip)
            b.setAccessibleName(tip)
            b.setAutoRaise(True)
            b.setProperty("icon_name", icon_name)
            b.clicked.connect(lambda _c=False, k=key: self.actionTriggered.emit(k))
            b.hide()
            self.action_buttons[key] = b
            footer.addWidget(b)
        self.pager = QWidget()
        pager_l = QHBoxLayout(self.pager)
        pager_l.setContentsMargins(6, 0, 0, 0)
        pager_l.setSpacing(0)
        self.previous_button = self._pager_button("‹", PREVIOUS, "Previous version of this reply (Alt+Left)")
        self.version_label = QLabel()
        self.version_label.setObjectName("versionLabel")
        self.next_button = self._pager_button("›", NEXT, "Next version of this reply (Alt+Right)")
        for w in (self.previous_button, self.version_label, self.next_button):
            pager_l.addWidget(w)
        self.pager.hide()
        footer.addWidget(self.pager)
        footer.addStretch(1)
        footer.addWidget(self.details_button)
        self.editor: InlineEditor | None = None
        layout.addWidget(self.live)
        layout.addWidget(self.stats_label)
        layout.addLayout(footer)
        self.details_button.hide()
        self.stats_label.hide()
        self._apply_icons()
        self.refresh()

    # --- content ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.renderer.render(self.message)
        self._show_stats()

    def set_style(self, style: RenderStyle) -> None:
        self.style_ = style
        self.renderer.style = style
        self._apply_icons()
        self.refresh()
        if self.details is not None:
            open_ = self.details_button.isChecked()
            self.details.deleteLater()
            self.details = None
            if open_:
                self._on_details_toggled(True)

    def extend(self) -> None:
        self.renderer.extend(self.message)

    def finish(self) -> None:
        self.renderer.finish(self.message)
        self.live.hide()
        self._show_stats()

    def set_live(self, live: LiveStats, with_draft: bool) -> None:
        self.live.setText("● " + live_text(live, with_draft))
        self.live.show()

    def set_reading(self, seconds: float) -> None:
        """Before the first token: the model is reading the conversation."""
        self.live.setText(f"● Reading the conversation… {seconds:.0f} s")
        self.live.show()

    def set_title(self, title: str) -> None:
        self.header.setText(title)

    def _pager_button(self, text: str, key: str, tip: str) -> QToolButton:
        b = QToolButton()
        b.setObjectName("pagerButton")
        b.setText(text)
        b.setToolTip(tip)
        b.setAccessibleName(tip)
        b.setAutoRaise(True)
        b.clicked.connect(lambda _c=False: self.actionTriggered.emit(key))
        return b

    def set_actions(self, keys: set[str], reasons: Mapping[str, str] | None = None) -> None:
        """Show the actions in `keys`; one with a reason is disabled and says why on hover."""
        reasons = reasons or {}
        for key, b in self.action_buttons.items():
            b.setVisible(key in keys)
            self._enable(b, ACTIONS[key][1], reasons.get(key, ""))
        m = self.message
        self.pager.setVisible(m.versions > 1)
        self.version_label.setText(f" {m.version + 1} / {m.versions} ")
        why = reasons.get("versions", "")
        self._enable(self.previous_button, "Previous version of this reply (Alt+Left)", why, m.version > 0)
        self._enable(
            self.next_button, "Next version of this reply (Alt+Right)", why, m.version < m.versions - 1
        )

    @staticmethod
    def _enable(b: QToolButton, tip: str, why: str, possible: bool = True) -> None:
        b.setEnabled(possible and not why)
        b.setToolTip(f"{tip}\n{why}" if why else tip)

    # --- editing in place --------------------------------------------------------------------
    def begin_edit(self) -> InlineEditor:
        """The message becomes an editor in its place (the user's last message)."""
        if self.editor is None:
            self.editor = InlineEditor(self.message.text)
            self.layout_.insertWidget(self.layout_.indexOf(self.body) + 1, self.editor)
            self.editor.cancelled.connect(self.end_edit)
        self.body.hide()
        self.editor.show()
        self.editor.text.setFocus()
        self.setMaximumWidth(16777215)
        self.setMinimumWidth(0)
        return self.editor

    def end_edit(self) -> None:
        if self.editor is not None:
            self.editor.hide()
            self.editor.deleteLater()
            self.editor = None
        self.body.show()

    def _show_stats(self) -> None:
        stats = self.message.stats
        if stats is None:
            self.stats_label.hide()
            self.details_button.hide()
            return
        lines = [" · ".join(speed_parts(stats))]
        draft = draft_parts(stats)
        if draft:
            lines.append(" · ".join(draft))
        self.stats_label.setText("\n".join(lines))
        self.stats_label.setToolTip(stats_line(stats))
        self.stats_label.show()
        self.details_button.setVisible(has_details(stats))

    def _apply_icons(self) -> None:
        t = self.style_.theme
        self.body.panel_colours = (t.code_bg, t.border)
        for b in self.action_buttons.values():
            b.setIcon(icon(str(b.property("icon_name")), t.muted))
        self.details_button.setIcon(
            icon("chevron-up" if self.details_button.isChecked() else "chevron-down", t.muted)
        )

    def _on_details_toggled(self, on: bool) -> None:
        stats = self.message.stats if on and self.details is None else None
        if stats is not None:
            self.details = SpeculationPanel(stats, self.style_.theme)
            self.layout_.addWidget(self.details)
        if self.details is not None:
            self.details.setVisible(on)
        self._apply_icons()

    def _on_anchor(self, url: QUrl) -> None:
        if url.scheme() == COPY_SCHEME:
            code = code_block_text(self.message.text, int(url.path() or 0))
            QGuiApplication.clipboard().setText(code)
        elif url.scheme() in ("http", "https"):
            QDesktopServices.openUrl(url)

    def plain_text(self) -> str:
        parts = [self.header.text(), self.body.document().toPlainText()]
        if self.message.stats is not None:
            parts.append(stats_line(self.message.stats))
        return "\n".join(parts)
