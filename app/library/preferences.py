"""The app's own preferences (not per model), declared once and kept in one settings file.

The View menu and the sidebar toggles read and write these; what happens to a damaged file is
the settings files' one policy (`settings_file`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.library.paths import config_dir
from app.library.settings_file import SettingsFile

log = logging.getLogger(__name__)

FILE_NAME = "ui-preferences.json"


@dataclass(frozen=True)
class Preference:
    name: str
    default: Any
    description: str
    choices: tuple[Any, ...] = ()

    def allows(self, value: Any) -> bool:
        return any(value == c and type(value) is type(c) for c in self.choices)


PREFERENCES: tuple[Preference, ...] = (
    Preference(
        "theme",
        "system",
        "Colour theme: follow the system's light or dark scheme, or always light or dark",
        ("system", "light", "dark"),
    ),
    Preference(
        "visualize_drafts",
        True,
        "Colour the draft tokens the main model accepted (LM Studio: Visualize accepted draft tokens)",
        (True, False),
    ),
    Preference(
        "show_rejected",
        False,
        "Show what the draft proposed and the main model refused, struck through where it was refused",
        (True, False),
    ),
)
SPECS = {p.name: p for p in PREFERENCES}


def _check(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in data.items():
        spec = SPECS.get(name)
        if spec is None:
            dropped.append(f"unknown preference {name!r}")
        elif not spec.allows(value):
            dropped.append(f"{name} must be one of {list(spec.choices)}, not {value!r}")
        else:
            kept[name] = value
    return kept, dropped


class Preferences:
    def __init__(self, path: Path | None = None) -> None:
        self.file = SettingsFile(path or config_dir() / FILE_NAME, "preferences", _check)

    def get(self, name: str) -> Any:
        return self.file.values.get(name, SPECS[name].default)

    def set(self, name: str, value: Any) -> None:
        spec = SPECS[name]
        if not spec.allows(value):
            raise ValueError(f"{name} must be one of {spec.choices}, not {value!r}")
        if self.get(name) == value:
            return
        try:
            self.file.change(lambda values: values.update({name: value}))
        except OSError as exc:  # kept for this session
            log.warning("could not save preferences: %s", exc)
