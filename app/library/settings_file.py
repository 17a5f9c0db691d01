"""The one store for the app's settings files: preferences, what the app remembers between
sessions, and per-model defaults.

Each is a JSON object, written atomically, and read under one policy, so that a damaged file
never stops the app and never goes unnoticed:
- missing: built-in defaults, silently (a first start);
- not a JSON object we can read (another encoding, not JSON, another shape or schema): set aside
  as `<name>.corrupt-<time>` (renamed, never deleted), built-in defaults, a warning;
- some values refused by their declarations: the others are kept, a copy of the file as it was
  is kept as `<name>.ignored-<time>`, the file is rewritten once, a warning;
- unreadable (permissions): built-in defaults and a warning, the file left alone.
Warnings go to `warn_user`: the window's banner and `doctor` show them.

A change is saved by reading the file again and applying it to what is there now, so two
holders of one file (two windows' parts, the app and the command line) never undo each other.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.library.atomic import read_json_file, set_aside, warn_user, write_json_atomic

log = logging.getLogger(__name__)

# What a file's values are checked with: the usable values and why any others were refused;
# ValueError when the file as a whole has another shape.
Check = Callable[[dict[str, Any]], tuple[dict[str, Any], list[str]]]

# SettingsFile.state after reading
MISSING = "not saved yet"
OK = "ok"
SET_ASIDE = "set aside"
UNREADABLE = "unreadable"
VALUES_DROPPED = "some values ignored"


class SettingsFile:
    """One settings file: `what` names it in warnings ("preferences"); `schema`, when given, is
    stored in the file as `"schema"` and a file of another schema is set aside."""

    def __init__(self, path: Path, what: str, check: Check, schema: int | None = None) -> None:
        self.path = path
        self.what = what
        self.check = check
        self.schema = schema
        self.state = MISSING
        self.warnings: list[str] = []  # what reading this file warned about
        self.values: dict[str, Any] = self._read() or {}

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warn_user(message)

    def _read(self) -> dict[str, Any] | None:
        """The file's usable values; None when there are none to read (missing or unusable)."""
        try:
            data = read_json_file(self.path)
        except FileNotFoundError:
            self.state = MISSING
            return None
        except ValueError as exc:
            self._set_aside(str(exc))
            return None
        except OSError as exc:
            self.state = UNREADABLE
            self._warn(f"cannot read {self.what} ({self.path}): {exc.strerror or exc}; using defaults")
            return None
        try:
            if not isinstance(data, dict):
                raise ValueError(f"expected an object, found {type(data).__name__}")
            if self.schema is not None:
                if data.get("schema") != self.schema:
                    raise ValueError(f"unknown schema {data.get('schema')!r}")
                data = {k: v for k, v in data.items() if k != "schema"}
            values, dropped = self.check(data)
        except ValueError as exc:
            self._set_aside(str(exc))
            return None
        self.state = OK
        if dropped:
            self.state = VALUES_DROPPED
            backup = self._keep_copy()
            where = f" (the file as it was is kept as {backup})" if backup else ""
            self._warn(f"ignored saved {self.what}{where}: " + "; ".join(dropped))
            if backup:
                try:
                    self._write(values)  # once: the next start reads a clean file, no second copy
                except OSError as exc:
                    log.warning("could not rewrite %s: %s", self.path, exc)
        return values

    def _set_aside(self, why: str) -> None:
        backup = set_aside(self.path, "corrupt")
        if backup is not None:
            self.state = SET_ASIDE
            self._warn(f"{self.what} could not be read ({why}); kept as {backup}, using defaults")
        else:
            self.state = UNREADABLE
            self._warn(f"{self.what} in {self.path} could not be read ({why}); using defaults")

    def _keep_copy(self) -> Path | None:
        """A copy of the file as read, before a save drops the values we could not use."""
        backup = self.path.with_name(f"{self.path.name}.ignored-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            shutil.copy2(self.path, backup)
        except OSError:
            return None
        return backup

    def _write(self, values: dict[str, Any]) -> None:
        head = {} if self.schema is None else {"schema": self.schema}
        write_json_atomic(self.path, {**head, **values})

    def change(self, apply: Callable[[dict[str, Any]], None]) -> None:
        """Apply a change to the file as it is now (read again, under the same policy; what this
        process holds when there is nothing usable to read) and save it atomically. OSError when
        it cannot be saved: the change is kept in `values` for this session."""
        now = self._read()
        if now is not None:
            self.values = now
        apply(self.values)
        self._write(self.values)
        self.state = OK
