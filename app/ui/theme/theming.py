"""Applying a theme to the running app: palette, stylesheet, and following the system.

With the "system" preference the theme tracks Qt's colour scheme (styleHints), live; "light"
and "dark" override it. Views that paint their own colours (the transcript, the charts)
listen to `changed` and redraw.
"""

from __future__ import annotations

from string import Template

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from app.library.atomic import write_text_atomic
from app.library.paths import cache_dir
from app.ui.preferences import Preferences
from app.ui.theme.colours import DARK, LIGHT, Theme
from app.ui.theme.resources import RESOURCES

THEME_CHOICES = (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark"))


def palette_for(theme: Theme) -> QPalette:
    p = QPalette()
    R = QPalette.ColorRole
    roles = {
        R.Window: theme.window,
        R.WindowText: theme.text,
        R.Base: theme.surface,
        R.AlternateBase: theme.surface_alt,
        R.Text: theme.text,
        R.Button: theme.surface_alt,
        R.ButtonText: theme.text,
        R.BrightText: theme.danger_text,
        R.Highlight: theme.accent,
        R.HighlightedText: theme.accent_text,
        R.ToolTipBase: theme.surface,
        R.ToolTipText: theme.text,
        R.PlaceholderText: theme.muted,
        R.Link: theme.accent,
        R.LinkVisited: theme.accent,
        R.Light: theme.surface,
        R.Midlight: theme.surface_alt,
        R.Mid: theme.border,
        R.Dark: theme.border,
        R.Shadow: theme.border,
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    disabled = QColor(theme.muted)
    disabled.setAlpha(170)
    for role in (R.WindowText, R.Text, R.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return p


def themed_icon_file(name: str, colour: str) -> str:
    """An icon of resources/icons in one colour, as a file a stylesheet can point at."""
    source = RESOURCES / "icons" / f"{name}.svg"
    target = cache_dir() / "theme-icons" / f"{name}-{colour.lstrip('#')}.svg"
    try:
        if not target.exists():
            write_text_atomic(target, source.read_text(encoding="utf-8").replace("currentColor", colour))
    except OSError:
        return ""
    return target.as_posix()


def stylesheet_for(theme: Theme) -> str:
    path = RESOURCES / "style.qss"
    if not path.exists():
        return ""
    values = dict(theme.values())
    values["arrow_down"] = themed_icon_file("chevron-down", theme.muted)
    return Template(path.read_text(encoding="utf-8")).safe_substitute(values)


class ThemeManager(QObject):
    """The current theme; `changed(theme)` after it is applied."""

    changed = Signal(object)

    def __init__(self, preferences: Preferences, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.preferences = preferences
        self.theme = LIGHT
        hints = QGuiApplication.styleHints()
        hints.colorSchemeChanged.connect(self._on_system_scheme_changed)
        self._system_dark = hints.colorScheme() == Qt.ColorScheme.Dark

    @property
    def choice(self) -> str:
        return str(self.preferences.get("theme"))

    def resolve(self) -> Theme:
        choice = self.choice
        if choice == "system":
            return DARK if self._system_dark else LIGHT
        return DARK if choice == "dark" else LIGHT

    def set_choice(self, choice: str) -> None:
        self.preferences.set("theme", choice)
        self.apply()

    def apply(self, force: bool = False) -> None:
        theme = self.resolve()
        if theme is self.theme and not force:
            return
        self.theme = theme
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.setPalette(palette_for(theme))
            app.setStyleSheet(stylesheet_for(theme))
        self.changed.emit(theme)

    def _on_system_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        self._system_dark = scheme == Qt.ColorScheme.Dark
        if self.choice == "system":
            self.apply()
