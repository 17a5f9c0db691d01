"""Per-model defaults ("My Models"), kept in one settings file with a schema version (see
`settings_file` for what happens to a damaged one)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.core import model_settings
from app.core.errors import InvalidRequestError
from app.library.paths import config_dir
from app.library.settings_file import SettingsFile

SCHEMA = 1
FILE_NAME = "model-defaults.json"


class ModelDefaultsStore:
    def __init__(self, path: Path | None = None) -> None:
        self.file = SettingsFile(path or config_dir() / FILE_NAME, "per-model defaults", _check, SCHEMA)

    @property
    def path(self) -> Path:
        return self.file.path

    def _models(self) -> dict[str, dict[str, Any]]:
        models: dict[str, dict[str, Any]] = self.file.values.setdefault("models", {})
        return models

    def get(self, key: str) -> dict[str, Any]:
        """The values saved for a model (only those the user changed)."""
        return dict(self._models().get(key, {}))

    def update(self, key: str, values: dict[str, Any]) -> dict[str, Any]:
        """Validate and save; a value equal to the built-in default is dropped."""
        checked = model_settings.validate(values)
        base = model_settings.defaults()

        def apply(data: dict[str, Any]) -> None:
            models = data.setdefault("models", {})
            saved = {k: v for k, v in {**models.get(key, {}), **checked}.items() if v != base[k]}
            if saved:
                models[key] = saved
            else:
                models.pop(key, None)

        self.file.change(apply)
        return self.get(key)

    def reset(self, key: str) -> None:
        if key in self._models():
            self.file.change(lambda data: data.setdefault("models", {}).pop(key, None))

    def effective(self, key: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
        return model_settings.effective(self.get(key), request)


def _check(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Every model's values that pass their declarations, and why the others did not (one bad
    value must not lose the rest)."""
    models = data.get("models")
    if not isinstance(models, dict):
        raise ValueError("not a defaults file")
    kept: dict[str, dict[str, Any]] = {}
    dropped: list[str] = []
    for key, values in models.items():
        good, bad = _valid_values(values)
        if good:
            kept[str(key)] = good
        dropped += [f"{key}: {why}" for why in bad]
    return {"models": kept}, dropped


def _valid_values(values: Any) -> tuple[dict[str, Any], list[str]]:
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
