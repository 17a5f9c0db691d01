"""Whether the disk that holds the conversations has room for them.

A disk counts as full below `FULL_BELOW` free bytes: a reply with its stats and SQLite's
write-ahead log need that much, and SQLite itself only says "disk I/O error" when the log's
index cannot grow, which must never read as a damaged file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

FULL_BELOW = 1 << 20


def free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged writer may still use on the disk holding `folder` (its nearest
    existing parent); None where the system cannot say."""
    here = folder
    while not here.exists() and here != here.parent:
        here = here.parent
    statvfs = getattr(os, "statvfs", None)  # not on Windows
    try:
        if statvfs is None:
            return shutil.disk_usage(here).free
        st = statvfs(here)
    except OSError:
        return None
    return int(st.f_bavail * st.f_frsize)


def size_text(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    if n < 1 << 20:
        return f"{n // 1024} KB"
    return f"{n / (1 << 20):.1f} MB"


def disk_full(folder: Path) -> str | None:
    """Why the disk holding `folder` counts as full ("the disk is full (12 KB free in ...)"),
    or None when it has room (or cannot say)."""
    free = free_bytes(folder)
    if free is None or free >= FULL_BELOW:
        return None
    return f"the disk is full ({size_text(free)} free in {folder})"
