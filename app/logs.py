"""Logging: a rotating log file under the platformdirs log folder, stderr for warnings."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.library.paths import log_dir

LOG_NAME = "specula.log"
_configured: Path | None = None


def log_file() -> Path:
    return log_dir() / LOG_NAME


def setup_logging(verbose: bool = False) -> Path:
    """Idempotent. INFO to the file (DEBUG with --verbose); warnings to stderr."""
    global _configured
    path = log_file()
    root = logging.getLogger()
    if _configured == path:
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.addHandler(console)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    _configured = path
    return path
