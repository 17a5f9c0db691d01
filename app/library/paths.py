"""Where Specula keeps things on disk (platformdirs), in one place so tests can redirect it."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "Specula"


def data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    """The app's own models folder: the bundled model and imported models live here."""
    return data_dir() / "models"


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def safe_resolve(path: Path) -> Path:
    """The absolute, link-free path; a symbolic-link loop or an unreadable folder on the way
    keeps the absolute path rather than raising (callers then report the file itself)."""
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):
        return path.expanduser().absolute()
