"""The app's own files: written so that a crash leaves either the old or the new content,
never half, and read defensively: a file of another shape, type or encoding is set aside
(renamed, never deleted) or dropped, with a warning the user sees in the window and `doctor`.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_MAX_OWN_FILE = 256 * 1024 * 1024
_warnings: list[str] = []


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
    text = json.dumps(data, indent=1, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a file name that is not UTF-8: escaped, it reads back the same
        text = json.dumps(data, indent=1)
    write_text_atomic(path, text)


# --- warnings the user sees -----------------------------------------------------------------
def warn_user(message: str) -> None:
    """Record a problem with one of our files for the window's banner and `doctor`."""
    log.warning(message)
    if message not in _warnings:
        _warnings.append(message)


def file_warnings() -> list[str]:
    """Every warning recorded in this process, oldest first."""
    return list(_warnings)


def clear_file_warnings() -> None:
    _warnings.clear()


# --- reading --------------------------------------------------------------------------------
def read_json_file(path: Path) -> Any:
    """Parse one of our JSON files. FileNotFoundError when absent; ValueError (with the reason)
    for anything that is not UTF-8 JSON in a regular file of sensible size; OSError otherwise."""
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("not a regular file")
    if st.st_size > _MAX_OWN_FILE:
        raise ValueError(f"implausibly large ({st.st_size} bytes)")
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None


def set_aside(path: Path, tag: str = "unreadable") -> Path | None:
    """Rename a file we cannot use to `<name>.<tag>-<time>` beside it, keeping it for the user.
    Returns the new path, or None when it could not be renamed."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup = path.with_name(f"{path.name}.{tag}-{stamp}")
    n = 1
    while backup.exists() or backup.is_symlink():
        n += 1
        backup = path.with_name(f"{path.name}.{tag}-{stamp}-{n}")
    try:
        path.rename(backup)
    except OSError as exc:
        log.warning("could not set %s aside: %s", path, exc)
        return None
    return backup


def read_cache(
    path: Path, schema: int, key: str, valid: Callable[[Any], bool] | None = None
) -> dict[str, Any]:
    """A cache written by write_json_atomic as {"schema": N, key: {...}}; empty when missing or
    of another schema (a cache only costs time to rebuild). A cache of another shape or encoding,
    and entries `valid` refuses, are dropped with a warning; the next save rewrites the file."""
    try:
        raw = read_json_file(path)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        warn_user(f"{path.name} was unreadable ({exc}); it is being rebuilt")
        return {}
    if not isinstance(raw, dict) or (raw.get("schema") == schema and not isinstance(raw.get(key), dict)):
        warn_user(f"{path.name} had an unexpected shape; it is being rebuilt")
        return {}
    if raw.get("schema") != schema:
        return {}
    value: dict[str, Any] = raw[key]
    if valid is None:
        return value
    kept = {k: v for k, v in value.items() if valid(v)}
    if len(kept) < len(value):
        n = len(value) - len(kept)
        warn_user(f"{path.name}: dropped {n} {'entry' if n == 1 else 'entries'} of an unexpected shape")
    return kept
