"""Per-model defaults ("My Models"), saved atomically with a schema version.

A corrupt file is set aside (renamed, with a warning), never silently lost, and the app goes
on with built-in defaults.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from app.core import model_settings
from app.library.atomic import write_json_atomic
from app.library.paths import config_dir

log = logging.getLogger(__name__)

SCHEMA = 1


class ModelDefaultsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "model-defaults.json"
        self.warnings: list[str] = []
        self._models: dict[str, dict[str, Any]] = {}
        self._load()

    def _set_aside(self, why: str) -> None:
        backup = self.path.with_name(f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            self.path.rename(backup)
            message = f"per-model defaults were unreadable ({why}); kept as {backup.name}, using defaults"
        except OSError:
            message = f"per-model defaults were unreadable ({why}); using defaults"
        log.warning(message)
        self.warnings.append(message)

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.warnings.append(f"cannot read {self.path.name}: {exc}")
            return
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
                raise ValueError("not a defaults file")
            if data.get("schema") != SCHEMA:
                raise ValueError(f"unknown schema {data.get('schema')!r}")
        except ValueError as exc:
            self._set_aside(str(exc))
            return
        for key, values in data["models"].items():
            try:
                self._models[key] = model_settings.validate(values)
            except Exception as exc:  # one bad model entry must not lose the others
                self.warnings.append(f"ignored saved defaults of {key}: {exc}")

    def _save(self) -> None:
        write_json_atomic(self.path, {"schema": SCHEMA, "models": self._models})

    def get(self, key: str) -> dict[str, Any]:
        """The values saved for a model (only those the user changed)."""
        return dict(self._models.get(key, {}))

    def update(self, key: str, values: dict[str, Any]) -> dict[str, Any]:
        """Validate and save; a value equal to the built-in default is dropped."""
        checked = model_settings.validate(values)
        saved = {**self._models.get(key, {}), **checked}
        base = model_settings.defaults()
        saved = {k: v for k, v in saved.items() if v != base[k]}
        if saved:
            self._models[key] = saved
        else:
            self._models.pop(key, None)
        self._save()
        return self.get(key)

    def reset(self, key: str) -> None:
        if self._models.pop(key, None) is not None:
            self._save()

    def effective(self, key: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
        return model_settings.effective(self.get(key), request)
