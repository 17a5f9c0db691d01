"""Files written so that a crash leaves either the old or the new content, never half."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=1, ensure_ascii=False))


def read_cache(path: Path, schema: int, key: str) -> dict[str, Any]:
    """A cache written by write_json_atomic as {"schema": N, key: {...}}; empty when missing,
    unreadable or of another schema (a cache only costs time to rebuild)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        value = raw.get(key) if raw.get("schema") == schema else None
    except (OSError, ValueError, AttributeError):
        return {}
    return value if isinstance(value, dict) else {}
