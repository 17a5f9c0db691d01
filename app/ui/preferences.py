"""The app's own preferences (not per model), declared once and saved atomically.

The View menu and the sidebar toggles read and write these; a missing or corrupt file
means defaults, never an error at start.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.library.atomic import write_json_atomic
from app.library.paths import config_dir

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


class Preferences:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / FILE_NAME
        self._values: dict[str, Any] = {p.name: p.default for p in PREFERENCES}
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            saved = {}
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable preferences %s: %s", self.path, exc)
            saved = {}
        if isinstance(saved, dict):
            for name, value in saved.items():
                spec = SPECS.get(name)
                if spec is not None and spec.allows(value):
                    self._values[name] = value

    def get(self, name: str) -> Any:
        return self._values[name]

    def set(self, name: str, value: Any) -> None:
        spec = SPECS[name]
        if not spec.allows(value):
            raise ValueError(f"{name} must be one of {spec.choices}, not {value!r}")
        if self._values[name] == value:
            return
        self._values[name] = value
        try:
            write_json_atomic(self.path, dict(self._values))
        except OSError as exc:  # keep the choice for this session
            log.warning("could not save preferences: %s", exc)
