"""The app's two colour themes, and the contrast rules they are held to.

Every colour the app paints comes from a `Theme`, the draft green included, so light and dark
stay complete and a test can check each text colour against each background it is drawn on
(WCAG 2.1: 4.5:1 for text, 3:1 for chart marks). No Qt here: the values are plain hex strings.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

SYNTAX_ROLES = ("keyword", "string", "comment", "number", "function", "builtin", "decorator")


@dataclass(frozen=True)
class Theme:
    name: str
    window: str  # the app and the transcript's background
    surface: str  # panels, inputs, the assistant's cards
    surface_alt: str  # hovered rows, the code header, chips
    border: str
    text: str
    muted: str  # secondary text: stats, headers, placeholders
    accent: str  # links, the send button, selection
    accent_text: str  # text on the accent
    card_user: str
    draft: str  # accepted draft tokens
    draft_bg: str  # behind accepted draft tokens (so commas and spaces show too)
    rejected: str  # rejected draft tokens, struck through
    code_bg: str
    code_header: str
    danger_bg: str
    danger_text: str
    warning_bg: str
    warning_text: str
    nav_bg: str
    nav_text: str
    nav_selected: str
    chart_accepted: str
    chart_rejected: str
    keyword: str
    string: str
    comment: str
    number: str
    function: str
    builtin: str
    decorator: str

    @property
    def dark(self) -> bool:
        return self.name == "dark"

    def values(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def text_pairs(self) -> list[tuple[str, str, str]]:
        """(what, foreground, background) for every text the app draws: each must reach 4.5:1."""
        pairs = []
        for bg_name in ("window", "surface", "card_user", "surface_alt"):
            pairs.append((f"text on {bg_name}", self.text, getattr(self, bg_name)))
            pairs.append((f"muted on {bg_name}", self.muted, getattr(self, bg_name)))
        pairs += [
            ("accent on surface", self.accent, self.surface),
            ("accent on card_user", self.accent, self.card_user),
            ("accent_text on accent", self.accent_text, self.accent),
            ("draft on draft_bg", self.draft, self.draft_bg),
            ("draft on surface", self.draft, self.surface),
            ("rejected on surface", self.rejected, self.surface),
            ("rejected on code_bg", self.rejected, self.code_bg),
            ("text on code_bg", self.text, self.code_bg),
            ("text on draft_bg", self.text, self.draft_bg),
            ("muted on code_header", self.muted, self.code_header),
            ("accent on code_header", self.accent, self.code_header),
            ("danger_text on danger_bg", self.danger_text, self.danger_bg),
            ("warning_text on warning_bg", self.warning_text, self.warning_bg),
            ("nav_text on nav_bg", self.nav_text, self.nav_bg),
            ("nav_text on nav_selected", self.nav_text, self.nav_selected),
        ]
        for role in SYNTAX_ROLES:
            colour = getattr(self, role)
            pairs.append((f"{role} on code_bg", colour, self.code_bg))
            pairs.append((f"{role} on draft_bg", colour, self.draft_bg))  # drafted code keeps its colours
        return pairs

    def mark_pairs(self) -> list[tuple[str, str, str]]:
        """Chart marks against the panel they sit on: 3:1 (WCAG non-text contrast)."""
        return [
            ("chart_accepted on surface", self.chart_accepted, self.surface),
            ("chart_rejected on surface", self.chart_rejected, self.surface),
        ]


LIGHT = Theme(
    name="light",
    window="#f3f4f6",
    surface="#ffffff",
    surface_alt="#eef0f3",
    border="#d8dce2",
    text="#1f2328",
    muted="#57606a",
    accent="#2357c6",
    accent_text="#ffffff",
    card_user="#e9f0fd",
    draft="#0b6b32",
    draft_bg="#dcf3e4",
    rejected="#a8321f",
    code_bg="#f6f8fa",
    code_header="#eaeef2",
    danger_bg="#fdecec",
    danger_text="#9b1c1c",
    warning_bg="#fff4d6",
    warning_text="#7a4b00",
    nav_bg="#1f2430",
    nav_text="#e6e8eb",
    nav_selected="#343b4a",
    chart_accepted="#1f9d55",
    chart_rejected="#8a939e",
    keyword="#7c3aad",
    string="#a0400f",
    comment="#57606a",
    number="#0b57a4",
    function="#8a4b08",
    builtin="#0b57a4",
    decorator="#7c3aad",
)

DARK = Theme(
    name="dark",
    window="#15171c",
    surface="#1e222a",
    surface_alt="#2a303b",
    border="#363d4a",
    text="#e6e8eb",
    muted="#a0a8b3",
    accent="#6ea8fe",
    accent_text="#0b1220",
    card_user="#1f2d47",
    draft="#6ee7a0",
    draft_bg="#173a26",
    rejected="#f4a08f",
    code_bg="#12151a",
    code_header="#262b34",
    danger_bg="#3a1717",
    danger_text="#fca5a5",
    warning_bg="#3a2e10",
    warning_text="#fcd58a",
    nav_bg="#101216",
    nav_text="#d7dbe0",
    nav_selected="#2a303b",
    chart_accepted="#4ade80",
    chart_rejected="#7b8494",
    keyword="#d2a8ff",
    string="#f2b482",
    comment="#9ba5b0",
    number="#79c0ff",
    function="#e0c46c",
    builtin="#ffa657",
    decorator="#d2a8ff",
)

THEMES = {"light": LIGHT, "dark": DARK}


def relative_luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a #rrggbb colour."""
    h = colour.lstrip("#")
    channels = [int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    hi, lo = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)
