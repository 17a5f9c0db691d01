"""Importing conversations from files and folders: each file is recognised by what it holds
(our JSON, an LM Studio conversation, ChatGPT's export, alone or in its .zip), stored in one
transaction, and summed up: what was imported, what was already here, what was skipped and why.

A file that cannot be read or parsed is skipped with its reason and never stops the others. A
conversation imported before (the same content, while it is still here) is not imported again;
nor is our own export of a conversation that is still here.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.chat.store import ChatStore, StoreFullError
from app.chat.transfer import chatgpt, lmstudio, specula_json
from app.chat.transfer.portable import PortableConversation
from app.chat.transfer.specula_json import FormatError
from app.chat.transfer.store_io import imported_as, same_as_existing, write_conversations

MAX_FILE_BYTES = 2 << 30  # a conversations file larger than this is not read (nor a .zip member)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Imported:
    path: Path
    title: str
    conversation_id: int
    messages: int
    source: str


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


@dataclass
class ImportSummary:
    imported: list[Imported] = field(default_factory=list)
    already: list[Imported] = field(default_factory=list)  # here before: conversation_id is that one
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def anything_imported(self) -> bool:
        return bool(self.imported)

    def headline(self) -> str:
        n = len(self.imported)
        messages = sum(i.messages for i in self.imported)
        parts = [f"Imported {n} conversation{'s' if n != 1 else ''} ({messages} messages)"]
        if self.already:
            parts.append(f"{len(self.already)} already here")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return "; ".join(parts) + "."

    def lines(self) -> list[str]:
        """The headline, then one line per conversation or file."""
        out = [self.headline()]
        out += [f"imported: {i.title} ({i.messages} messages, {i.source}, {i.path})" for i in self.imported]
        out += [f"already here: {i.title} ({i.path})" for i in self.already]
        out += [f"skipped: {s.path}: {s.reason}" for s in self.skipped]
        return out


def import_paths(store: ChatStore, paths: Sequence[Path], progress: Progress | None = None) -> ImportSummary:
    """Import every conversation file in `paths` (files, or folders searched for them)."""
    summary = ImportSummary()
    files: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            files += [(f, False) for f in _files_in(path)]
        else:
            files.append((path, True))
    seen: set[str] = set()
    for done, (path, named) in enumerate(files):
        _import_file(store, path, named, summary, seen)
        if progress is not None:
            progress(done + 1, len(files))
    if not files:
        summary.skipped += [Skipped(p, "no conversation files found there") for p in paths]
    return summary


def _files_in(folder: Path) -> list[Path]:
    """Conversation files under a folder: LM Studio's, ChatGPT's export, and JSON of our own."""
    try:
        candidates = sorted(p for p in folder.rglob("*") if p.suffix in (".json", ".zip") and p.is_file())
    except OSError:
        return []
    return [p for p in candidates if _looks_like_conversations(p)]


def _looks_like_conversations(path: Path) -> bool:
    if path.name.endswith(lmstudio.SUFFIX) or path.name == chatgpt.FILE_NAME or path.suffix == ".zip":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(256)
    except OSError:
        return True  # named, it is reported
    return specula_json.FORMAT.encode() in head


def _import_file(store: ChatStore, path: Path, named: bool, summary: ImportSummary, seen: set[str]) -> None:
    try:
        found, problems, source = _read_file(path)
    except FormatError as exc:
        if named or path.suffix != ".zip":
            summary.skipped.append(Skipped(path, str(exc)))
        return
    summary.skipped += [Skipped(path, p) for p in problems]
    new: list[tuple[PortableConversation, str]] = []
    for conv in found:
        fingerprint = conv.fingerprint(source)
        here = imported_as(store, fingerprint)
        if here is None and source == specula_json.SOURCE:
            here = same_as_existing(store, conv)
        if here is not None or fingerprint in seen:
            summary.already.append(Imported(path, conv.title, here or 0, conv.message_count, source))
            continue
        seen.add(fingerprint)
        new.append((conv, fingerprint))
    if not new:
        return
    try:
        ids = write_conversations(store, new)
    except (StoreFullError, sqlite3.Error) as exc:  # one transaction: nothing of it is stored
        summary.skipped.append(Skipped(path, f"nothing was imported from it: {exc}"))
        return
    summary.imported += [
        Imported(path, conv.title, cid, conv.message_count, source)
        for (conv, _), cid in zip(new, ids, strict=True)
    ]


def _read_file(path: Path) -> tuple[list[PortableConversation], list[str], str]:
    """(conversations, why some were skipped, the format) of one file; FormatError when none
    can be read from it."""
    document = _from_zip(path) if path.suffix == ".zip" else _parse(_read_bytes(path))
    if specula_json.is_ours(document):
        conversations, problems = specula_json.from_document(document)
        return conversations, problems, specula_json.SOURCE
    if chatgpt.is_chatgpt(document):
        return (*_each(chatgpt.conversations(document), chatgpt.read), chatgpt.SOURCE)
    if lmstudio.is_lmstudio(document):
        title = path.name.removesuffix(lmstudio.SUFFIX).removesuffix(".json")
        fallback = f"LM Studio conversation {title}"
        return [lmstudio.read(document, fallback)], [], lmstudio.SOURCE
    raise FormatError(
        "not a conversation file Specula knows (its own JSON, an LM Studio conversation, "
        "ChatGPT's conversations.json)"
    )


def _each(
    items: Iterable[Any], read: Callable[[Any, int], PortableConversation]
) -> tuple[list[PortableConversation], list[str]]:
    out: list[PortableConversation] = []
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            out.append(read(item, index))
        except FormatError as exc:
            title = item.get("title") if isinstance(item, dict) else None
            name = f"“{title}”" if isinstance(title, str) and title else f"conversation {index + 1}"
            problems.append(f"{name}: {exc}")
    return out, problems


def _read_bytes(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise FormatError(f"it is larger than {MAX_FILE_BYTES >> 30} GB")
        return path.read_bytes()
    except OSError as exc:
        raise FormatError(f"it could not be read ({exc.strerror or exc})") from None


def _from_zip(path: Path) -> Any:
    try:
        with zipfile.ZipFile(path) as archive:
            member = next((i for i in archive.infolist() if Path(i.filename).name == chatgpt.FILE_NAME), None)
            if member is None:
                raise FormatError(f"the archive holds no {chatgpt.FILE_NAME}")
            if member.file_size > MAX_FILE_BYTES:
                raise FormatError(f"its {chatgpt.FILE_NAME} is larger than {MAX_FILE_BYTES >> 30} GB")
            return _parse(archive.read(member))
    except (OSError, zipfile.BadZipFile) as exc:
        raise FormatError(f"it is not a readable .zip archive ({exc})") from None


def _parse(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(f"it is not UTF-8 text (byte {exc.start + 1})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"it is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:
        raise FormatError("its JSON is nested too deeply") from None
