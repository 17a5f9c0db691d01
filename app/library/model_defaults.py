"""Per-model defaults ("My Models"), saved atomically with a schema version.

A corrupt file is set aside (renamed, with a warning), never silently lost, and the app goes
on with built-in defaults.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from app.core import model_settings
from app.core.errors import InvalidRequestError
from app.library.atomic import read_json_file, set_aside, warn_user, write_json_atomic
from app.library.paths import config_dir

log = logging.getLogger(__name__)

SCHEMA = 1


class ModelDefaultsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "model-defaults.json"
        self.warnings: list[str] = []
        self._models: dict[str, dict[str, Any]] = {}
        self._load()

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warn_user(message)

    def _set_aside(self, why: str) -> None:
        backup = set_aside(self.path, "corrupt")
        if backup is not None:
            self._warn(f"per-model defaults were unreadable ({why}); kept as {backup}, using defaults")
        else:
            self._warn(f"per-model defaults in {self.path} were unreadable ({why}); using defaults")

    def _load(self) -> None:
        try:
            data = read_json_file(self.path)
        except FileNotFoundError:
            return
        except ValueError as exc:
            self._set_aside(str(exc))
            return
        except OSError as exc:
            self._warn(f"cannot read {self.path}: {exc.strerror or exc}; using defaults")
            return
        try:
            if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
                raise ValueError("not a defaults file")
            if data.get("schema") != SCHEMA:
                raise ValueError(f"unknown schema {data.get('schema')!r}")
        except ValueError as exc:
            self._set_aside(str(exc))
            return
        dropped: list[str] = []
        for key, values in data["models"].items():
            kept, bad = _valid_values(values)
            if kept:
                self._models[str(key)] = kept
            dropped += [f"{key}: {why}" for why in bad]
        if dropped:
            backup = self._keep_copy()
            where = f" (the file as it was is kept as {backup})" if backup else ""
            self._warn(f"ignored saved defaults{where}: " + "; ".join(dropped))
            if backup:
                try:
                    self._save()  # once: the next start reads a clean file, no second copy
                except OSError as exc:
                    log.warning("could not rewrite %s: %s", self.path, exc)

    def _keep_copy(self) -> Path | None:
        """A copy of the file as read, before a save drops the values we could not use."""
        backup = self.path.with_name(f"{self.path.name}.ignored-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            shutil.copy2(self.path, backup)
        except OSError:
            return None
        return backup

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


def _valid_values(values: Any) -> tuple[dict[str, Any], list[str]]:
    """The values of one model's saved defaults that pass their declarations, and why the
    others did not (one bad value must not lose the rest)."""
    if not isinstance(values, dict):
        return {}, [f"expected settings, found {type(values).__name__}"]
    kept: dict[str, Any] = {}
    bad: list[str] = []
    for name, value in values.items():
        try:
            kept.update(model_settings.validate({name: value}))
        except InvalidRequestError as exc:
            bad.append(str(exc))
    return kept, bad
