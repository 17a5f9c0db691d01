"""Themes: every text colour meets WCAG AA on what it is drawn on, both themes are complete,
the app follows the system's scheme unless the user chose one, and the choice is kept."""

from __future__ import annotations

import re

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from app.library.preferences import Preferences
from app.ui.theme.colours import DARK, LIGHT, THEMES, contrast_ratio, relative_luminance
from app.ui.theme.theming import ThemeManager, palette_for, stylesheet_for


def test_contrast_ratio_matches_the_wcag_definition():
    assert relative_luminance("#000000") == 0.0
    assert relative_luminance("#ffffff") == pytest.approx(1.0)
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the famous near miss
    assert contrast_ratio("#ffffff", "#777777") == contrast_ratio("#777777", "#ffffff")


@pytest.mark.parametrize("theme", [LIGHT, DARK], ids=lambda t: t.name)
def test_every_text_colour_reaches_aa_on_its_backgrounds(theme):
    failing = [
        (what, round(contrast_ratio(fg, bg), 2))
        for what, fg, bg in theme.text_pairs()
        if contrast_ratio(fg, bg) < 4.5
    ]
    assert not failing
    marks = [
        (w, round(contrast_ratio(f, b), 2)) for w, f, b in theme.mark_pairs() if contrast_ratio(f, b) < 3.0
    ]
    assert not marks


def test_the_draft_green_is_the_themes_and_differs_between_themes():
    assert LIGHT.draft != DARK.draft
    assert LIGHT.draft_bg != DARK.draft_bg
    assert relative_luminance(DARK.window) < 0.05 < relative_luminance(LIGHT.window)


def test_the_stylesheet_uses_only_theme_colours():
    for theme in THEMES.values():
        qss = stylesheet_for(theme)
        assert "$" not in qss, re.findall(r"\$\w+", qss)
        literal = set(re.findall(r"#[0-9a-fA-F]{6}\b", qss))
        assert literal <= set(theme.values().values()), literal - set(theme.values().values())


def test_palette_follows_the_theme():
    p = palette_for(DARK)
    assert p.color(QPalette.ColorRole.Window).name() == DARK.window
    assert p.color(QPalette.ColorRole.Text).name() == DARK.text
    assert p.color(QPalette.ColorRole.Highlight).name() == DARK.accent


def test_theme_follows_the_system_unless_overridden(qapp):
    prefs = Preferences()
    manager = ThemeManager(prefs)
    seen = []
    manager.changed.connect(seen.append)
    manager.apply(force=True)
    start = manager.theme
    manager._on_system_scheme_changed(Qt.ColorScheme.Dark)
    assert manager.theme is DARK
    assert QApplication.instance().palette().color(QPalette.ColorRole.Window).name() == DARK.window  # type: ignore[union-attr]
    manager._on_system_scheme_changed(Qt.ColorScheme.Light)
    assert manager.theme is LIGHT
    manager.set_choice("dark")
    manager._on_system_scheme_changed(Qt.ColorScheme.Light)  # a manual choice wins
    assert manager.theme is DARK
    assert seen[0] is start
    assert seen[-1] is DARK
    assert Preferences().get("theme") == "dark"  # kept for the next start
    manager.set_choice("light")
