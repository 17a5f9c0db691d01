"""What speculation learned on this machine, kept between replies and runs.

A small JSON file in the app's cache folder holds, per main + draft + sampler settings, what
Auto learned (acceptance by draft confidence, costs relative to the main model's own step), so
the next reply starts from it instead of exploring. It holds no speeds: "x times faster" is
measured within each reply (app/engines/reply_clock.py), never against another hour's.
Models are keyed by path, size and mtime: a changed file is a new key, and the old entries
for its path are dropped. Losing the file only costs re-learning; a broken one is ignored.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from pathlib import Path
from typing import Any

from app.library.atomic import read_cache, write_json_atomic
from app.library.paths import cache_dir

log = logging.getLogger(__name__)

SCHEMA = 1
FILE_NAME = "speculation.json"
MAX_PAIRS = 64
_lock = threading.Lock()


_VERSION = re.compile(r"\|\d+\|\d+")  # "|size|mtime" in a file identity


class SpeculationMemory:
    """Read at the start of a reply, merged back at its end (under a lock, re-reading the
    file first, so two replies finishing together both keep what they learned)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path or cache_dir() / FILE_NAME

    def _read(self) -> dict[str, Any]:
        return read_cache(self.path, SCHEMA, "memory")

    # --- what Auto learned ---------------------------------------------------------------------
    @staticmethod
    def pair_key(main_id: str, draft_id: str, settings_key: str) -> str:
        return f"{main_id}\n{draft_id}\n{settings_key}"

    def learned(self, key: str | None) -> dict[str, Any] | None:
        if key is None:
            return None
        entry = self._read().get("pairs", {}).get(key)
        state = entry.get("state") if isinstance(entry, dict) else None
        return state if isinstance(state, dict) else None

    def record_learned(self, key: str | None, state: dict[str, Any]) -> None:
        if key is None:
            return

        def update(memory: dict[str, Any]) -> None:
            memory.setdefault("pairs", {})[key] = {"state": state, "used": time.time()}

        self._update(update, key)

    # --- writing ---------------------------------------------------------------------------------
    def _update(self, change: Any, fresh: str) -> None:
        with _lock:
            memory = self._read()
            memory.pop("models", None)  # no-draft speeds of older versions: never compared again
            change(memory)
            _prune(memory, fresh)
            try:
                write_json_atomic(self.path, {"schema": SCHEMA, "memory": memory})
            except OSError as exc:  # a cache: never worth failing a reply for
                log.warning("could not save %s: %s", self.path, exc)


def _signature(key: str) -> str:
    """A key without the sizes and mtimes in it: the same files, whatever their version."""
    return _VERSION.sub("", key)


def _prune(memory: dict[str, Any], fresh: str | None = None) -> None:
    """Drop entries of older versions of `fresh`'s files (same paths, other sizes or mtimes),
    then the least recently used beyond the caps."""
    for name, cap in (("pairs", MAX_PAIRS),):
        table: dict[str, Any] = memory.get(name, {})
        if fresh is not None and fresh in table:
            sig = _signature(fresh)
            for key in [k for k in table if k != fresh and _signature(k) == sig]:
                del table[key]
        if len(table) > cap:
            ages = {key: _used(entry) for key, entry in table.items()}
            for key in sorted(ages, key=ages.__getitem__)[: len(table) - cap]:
                del table[key]


def _used(entry: object) -> float:
    return float(entry.get("used", 0)) if isinstance(entry, dict) else 0.0
