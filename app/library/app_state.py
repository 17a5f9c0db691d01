"""What the app remembers between sessions that is not a preference: whether the welcome was
shown, whether importing LM Studio's conversations was offered, and the model and draft in use
when it closed (loaded again at the next start).

One settings file (`settings_file`: a damaged one is set aside with a warning); a missing one
means a first start."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from app.library.paths import config_dir
from app.library.settings_file import SettingsFile

log = logging.getLogger(__name__)

STATE_FILE = "app-state.json"
_KINDS: dict[str, type] = {
    "welcomed": bool,
    "lmstudio_chats_offered": bool,
    "last_model": str,
    "last_draft": str,
}


def _check(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in data.items():
        kind = _KINDS.get(name)
        if kind is None:
            dropped.append(f"unknown entry {name!r}")
        elif type(value) is not kind:
            dropped.append(f"{name} must be {'true or false' if kind is bool else 'text'}, not {value!r}")
        else:
            kept[name] = value
    return kept, dropped


class AppState:
    def __init__(self, path: Path | None = None) -> None:
        self.file = SettingsFile(path or config_dir() / STATE_FILE, "the app's saved state", _check)

    def _save(self, values: dict[str, Any]) -> None:
        try:
            self.file.change(lambda now: now.update(values))
        except OSError as exc:  # remembered for this session only
            log.warning("could not save %s: %s", self.file.path, exc)

    @property
    def welcomed(self) -> bool:
        return bool(self.file.values.get("welcomed"))

    def mark_welcomed(self) -> None:
        self._save({"welcomed": True})

    @property
    def lmstudio_chats_offered(self) -> bool:
        """Importing LM Studio's conversations was offered once (it stays in File > Import)."""
        return bool(self.file.values.get("lmstudio_chats_offered"))

    def mark_lmstudio_chats_offered(self) -> None:
        self._save({"lmstudio_chats_offered": True})

    def last_pair(self) -> tuple[str, str] | None:
        """(model key, draft key or "") in use when the app last closed."""
        model = self.file.values.get("last_model")
        if model:
            return model, self.file.values.get("last_draft", "")
        return None

    def remember_pair(self, model: str, draft: str) -> None:
        if not model or (model, draft) == self.last_pair():
            return
        self._save({"last_model": model, "last_draft": draft})
