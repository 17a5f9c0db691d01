"""What the app remembers between sessions that is not a preference: whether the welcome was
shown, and the model and draft in use when it closed (loaded again at the next start).

One small JSON file, written atomically; a missing or damaged one means a first start."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from app.library.atomic import write_json_atomic
from app.library.paths import config_dir

log = logging.getLogger(__name__)

STATE_FILE = "app-state.json"


class AppState:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / STATE_FILE
        self._data: dict[str, Any] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            data = {}
        if isinstance(data, dict):
            self._data = data

    def _save(self) -> None:
        try:
            write_json_atomic(self.path, self._data)
        except OSError as exc:  # remembered for this session only
            log.warning("could not save %s: %s", self.path, exc)

    @property
    def welcomed(self) -> bool:
        return bool(self._data.get("welcomed"))

    def mark_welcomed(self) -> None:
        self._data["welcomed"] = True
        self._save()

    def last_pair(self) -> tuple[str, str] | None:
        """(model key, draft key or "") in use when the app last closed."""
        model, draft = self._data.get("last_model"), self._data.get("last_draft") or ""
        if isinstance(model, str) and model and isinstance(draft, str):
            return model, draft
        return None

    def remember_pair(self, model: str, draft: str) -> None:
        if not model or (model, draft) == self.last_pair():
            return
        self._data["last_model"], self._data["last_draft"] = model, draft
        self._save()
