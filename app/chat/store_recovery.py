"""Opening the conversations file whatever state it is in, so the app always starts.

A file SQLite cannot use (damaged, truncated, not a database, unreadable) is set aside, renamed
beside itself and never deleted; what can still be read from it is copied into a fresh file,
and conversations that could be read only in part are marked. A file that cannot be written
(read-only, or in use) is read into memory: everything shows, nothing of the session is saved.
A full disk is neither: the file is not touched, the window says the disk is full, and writing
resumes once there is space (`OpenedStore.waiting_for_space`: the file could not even be opened
for writing, so it is read into memory until then). Each case leaves a `StoreNotice` the window
shows.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.chat.disk_space import disk_full
from app.chat.salvage import Salvage, salvage
from app.library.atomic import set_aside

log = logging.getLogger(__name__)

_DAMAGED, _UNREADABLE, _READ_ONLY, _BUSY, _FULL = "damaged", "unreadable", "read-only", "busy", "full"
_CODES = {
    3: _UNREADABLE,  # SQLITE_PERM
    5: _BUSY,
    6: _BUSY,
    8: _READ_ONLY,
    10: _DAMAGED,  # SQLITE_IOERR: the disk gave an error reading it
    11: _DAMAGED,  # SQLITE_CORRUPT
    13: _FULL,
    14: _UNREADABLE,  # SQLITE_CANTOPEN
    23: _UNREADABLE,  # SQLITE_AUTH
    26: _DAMAGED,  # SQLITE_NOTADB
}
_WORDS = (
    ("readonly", _READ_ONLY),
    ("read-only", _READ_ONLY),
    ("locked", _BUSY),
    ("busy", _BUSY),
    ("disk is full", _FULL),
    ("unable to open", _UNREADABLE),
    ("malformed", _DAMAGED),
    ("not a database", _DAMAGED),
)


class StoreUnusable(Exception):
    """The file cannot be used as it is; `kind` says why (damaged, unreadable, ...)."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


@dataclass(frozen=True)
class StoreNotice:
    """What happened to the conversations file, for the window's banner."""

    message: str
    kept_as: Path | None = None  # where the old file now is, when it was set aside
    saving: bool = True  # False: this session's conversations live in memory only


@dataclass
class OpenedStore:
    db: sqlite3.Connection
    notice: StoreNotice | None = None
    waiting_for_space: bool = False  # `db` is a copy in memory until the file can be opened


def full_disk_notice(why: str) -> str:
    return (
        f"Conversations cannot be saved now: {why}. A reply you get stays on screen and is saved "
        "as soon as there is space again; free some space on that disk."
    )


def classify(exc: BaseException) -> str:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in _CODES:
        return _CODES[code & 0xFF]
    text = str(exc).lower()
    return next((kind for word, kind in _WORDS if word in text), _DAMAGED)


def decode_text(raw: bytes) -> str:
    """Text columns as str even when a damaged page holds invalid UTF-8."""
    return raw.decode("utf-8", errors="replace")


def open_store(path: Path, prepare: Callable[[sqlite3.Connection], None]) -> OpenedStore:
    """The conversations database at `path`, prepared (schema, pragmas) by `prepare`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _memory(prepare, f"the folder {path.parent} could not be created ({exc.strerror or exc})")
    full = disk_full(path.parent)
    if path.exists() or path.is_symlink():
        try:
            return _noting_full_disk(OpenedStore(open_checked(path, prepare)), full)
        except StoreUnusable as exc:
            problem = exc
        except sqlite3.Error as exc:
            # SQLite reports a write-ahead log it cannot grow as an I/O error: not damage
            kind = _FULL if full and classify(exc) in (_DAMAGED, _FULL) else classify(exc)
            problem = StoreUnusable(kind, str(exc))
        log.warning("conversations file %s: %s (%s)", path, problem.kind, problem.reason)
        if problem.kind == _FULL:
            return _waiting_for_space(path, prepare, full or "the disk is full")
        if problem.kind in (_READ_ONLY, _BUSY):
            return _read_into_memory(path, prepare, _why_not_writable(problem, path))
        return _set_aside_and_recover(path, prepare, problem)
    try:
        return _noting_full_disk(OpenedStore(open_checked(path, prepare)), full)
    except (StoreUnusable, sqlite3.Error) as exc:
        if full:
            opened = _memory(prepare, full)
            return OpenedStore(opened.db, StoreNotice(full_disk_notice(full)), waiting_for_space=True)
        return _memory(prepare, f"{path} could not be created ({exc})")


def _noting_full_disk(opened: OpenedStore, full: str | None) -> OpenedStore:
    """A file that opened on a full disk: it works, and the window says what will not save."""
    if full:
        log.warning("conversations file: %s", full)
        opened.notice = StoreNotice(full_disk_notice(full))
    return opened


def _waiting_for_space(path: Path, prepare: Callable[[sqlite3.Connection], None], why: str) -> OpenedStore:
    """The file cannot be opened for writing on a full disk: read it into memory, untouched."""
    opened = _read_into_memory(path, prepare, "cannot be written")
    if opened.notice is not None and "could not be read" in opened.notice.message:
        return opened
    return OpenedStore(opened.db, StoreNotice(full_disk_notice(why)), waiting_for_space=True)


def describe(path: Path) -> str:
    """The file's state without changing anything (for `doctor`)."""
    if not (path.exists() or path.is_symlink()):
        full = disk_full(path.parent)
        return "not created yet" + (f", and it cannot be: {full}" if full else "")
    if not path.is_file():
        return "unusable: not a regular file"
    try:
        db = _connect_read_only(path)
    except sqlite3.Error as exc:
        return f"{classify(exc)}: {exc}"
    try:
        problem = quick_check(db)
        if problem is not None:
            return f"damaged: {problem}"
        (n,) = db.execute("SELECT count(*) FROM conversations").fetchone()
    except sqlite3.Error as exc:
        return f"{classify(exc)}: {exc}"
    finally:
        db.close()
    writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    full = disk_full(path.parent)
    if full:
        return f"ok, {n} conversations, but nothing new can be saved: {full}"
    return f"ok, {n} conversations" + ("" if writable else " (read-only: nothing new is saved)")


def quick_check(db: sqlite3.Connection) -> str | None:
    """None when SQLite finds the file sound; else its first complaint."""
    rows = [str(r[0]) for r in db.execute("PRAGMA quick_check").fetchall()]
    if rows == ["ok"]:
        return None
    log.warning("PRAGMA quick_check: %s", "; ".join(rows))
    found = [r for r in rows if not r.startswith("***")]
    return (
        f"SQLite's integrity check failed: {found[0].splitlines()[0]}" if found else "integrity check failed"
    )


def open_checked(path: Path, prepare: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    if (path.exists() or path.is_symlink()) and not path.is_file():
        raise StoreUnusable(_UNREADABLE, "not a regular file")
    db = sqlite3.connect(str(path), timeout=2.0)
    db.text_factory = decode_text
    try:
        problem = quick_check(db)
        if problem is not None:
            raise StoreUnusable(_DAMAGED, problem)
        prepare(db)
    except BaseException:
        db.close()
        raise
    return db


def _memory(prepare: Callable[[sqlite3.Connection], None], why: str) -> OpenedStore:
    db = sqlite3.connect(":memory:")
    db.text_factory = decode_text
    prepare(db)
    return OpenedStore(
        db,
        StoreNotice(
            f"Conversations cannot be saved: {why}. Nothing from this session will be kept.", None, False
        ),
    )


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; `immutable` when SQLite cannot even create its lock files."""
    last: sqlite3.Error | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(f"{path.absolute().as_uri()}?{query}", uri=True, timeout=2.0)
            db.text_factory = decode_text
            # Lets SQLite read a truncated file (it refuses one shorter than its header says);
            # the connection is read-only, so nothing can be written through it.
            db.execute("PRAGMA writable_schema = ON")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.Error as exc:
            last = exc
    assert last is not None
    raise last


def _why_not_writable(problem: StoreUnusable, path: Path) -> str:
    read_only = (
        "is read-only"
        if not os.access(path, os.W_OK)
        else f"cannot be written (its folder {path.parent} is read-only)"
    )
    return {
        _READ_ONLY: read_only,
        _BUSY: f"is in use by another program ({problem.reason})",
    }[problem.kind]


def _read_into_memory(path: Path, prepare: Callable[[sqlite3.Connection], None], why: str) -> OpenedStore:
    mem = sqlite3.connect(":memory:")
    mem.text_factory = decode_text
    lost = ""
    try:
        src = _connect_read_only(path)
    except sqlite3.Error as exc:
        prepare(mem)
        message = f"Your conversations file {path} {why}, and could not be read ({exc})."
        return OpenedStore(
            mem, StoreNotice(message + " Nothing from this session will be saved.", None, False)
        )
    try:
        src.backup(mem)
        if quick_check(mem) is not None:
            raise sqlite3.DatabaseError("damaged")
        prepare(mem)
    except sqlite3.Error:
        mem.close()
        mem = sqlite3.connect(":memory:")
        mem.text_factory = decode_text
        prepare(mem)
        report = salvage(src, mem)
        lost = f" It is also damaged: {_salvage_summary(report)}."
    finally:
        src.close()
    message = (
        f"Your conversations file {path} {why}: you can read and search your conversations, "
        f"but nothing from this session will be saved.{lost} Make it writable and restart Specula."
    )
    return OpenedStore(mem, StoreNotice(message, None, False))


def _set_aside_and_recover(
    path: Path, prepare: Callable[[sqlite3.Connection], None], problem: StoreUnusable
) -> OpenedStore:
    kept = set_aside_database(path, problem.kind)
    if kept is None:  # cannot rename it: show what can be read, save nothing
        why = f"is {problem.kind} ({problem.reason}) and could not be set aside"
        return _read_into_memory(path, prepare, why)
    try:
        db = open_checked(path, prepare)
    except (StoreUnusable, sqlite3.Error) as exc:
        opened = _memory(prepare, f"a new file could not be created at {path} ({exc})")
        db = opened.db
        saving = False
    else:
        saving = True
    try:
        src = _connect_read_only(kept)
    except sqlite3.Error:
        report = None
    else:
        try:
            report = salvage(src, db)
        finally:
            src.close()
    adjective = "damaged" if problem.kind == _DAMAGED else "unreadable"
    head = f"Your conversations file was {adjective} ({problem.reason}). It was set aside as {kept}"
    if report is None or report.conversations == 0:
        message = f"{head}; a new, empty one is used."
    else:
        message = f"{head}; {_salvage_summary(report, 'into a new file')}."
    if not saving:
        message += " Nothing from this session will be saved."
    return OpenedStore(db, StoreNotice(message, kept, saving))


def set_aside_database(path: Path, kind: str) -> Path | None:
    """Rename the database and its journal files together (the -wal may hold committed data)."""
    kept = set_aside(path, kind.replace("-", ""))
    if kept is None:
        return None
    for suffix in ("-wal", "-shm", "-journal"):
        extra = path.with_name(path.name + suffix)
        if extra.exists():
            try:
                extra.rename(kept.with_name(kept.name + suffix))
            except OSError as exc:
                log.warning("could not move %s beside %s: %s", extra, kept, exc)
    return kept


def _salvage_summary(report: Salvage, where: str = "") -> str:
    part = f", {len(report.damaged)} of them possibly incomplete" if report.damaged else ""
    n = report.conversations
    were = "was" if n == 1 else "were"
    target = f" {where}" if where else ""
    return (
        f"{n} conversation{'s' if n != 1 else ''} ({report.messages} messages) {were} recovered{target}{part}"
    )
