"""Finding models on disk: the app's folder, LM Studio's folders, the Hugging Face cache and
folders the user added. Headers only, cached by path, size and mtime; a bad file becomes a
problem in the list, never a failed scan.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ModelFileError
from app.library.atomic import read_cache, write_json_atomic
from app.library.entry import LLAMA_CPP, MLX, ModelEntry, ScanProblem
from app.library.gguf_meta import read_gguf
from app.library.mlx_meta import read_mlx_folder
from app.library.paths import cache_dir, models_dir

log = logging.getLogger(__name__)

SPLIT_RE = re.compile(r"^(?P<base>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$", re.IGNORECASE)
HEADER_CACHE_SCHEMA = 2  # 2: headers that parse into nonsense are problems (read every header again)
MAX_REASON = 500  # a problem's reason, as cached and shown


@dataclass(frozen=True)
class ModelRoot:
    path: Path
    label: str
    layout: str = "plain"  # "plain": publisher/repo/file; "hf": the Hugging Face hub cache


def hf_hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or str(Path.home() / ".cache" / "huggingface")
    return Path(hf_home) / "hub"


def default_roots(extra: Iterable[Path] = ()) -> list[ModelRoot]:
    home = Path.home()
    roots = [
        ModelRoot(models_dir(), "Specula"),
        ModelRoot(home / ".lmstudio" / "models", "LM Studio"),
        ModelRoot(home / ".cache" / "lm-studio" / "models", "LM Studio"),
        ModelRoot(hf_hub_cache(), "Hugging Face", "hf"),
    ]
    roots += [ModelRoot(Path(p), "Added folder") for p in extra]
    return roots


@dataclass
class _Candidate:
    key: str
    paths: list[Path]  # GGUF parts in order, or [folder] for MLX
    engine: str
    source: str
    missing: str | None = None


@dataclass
class ScanResult:
    entries: dict[str, ModelEntry] = field(default_factory=dict)
    problems: list[ScanProblem] = field(default_factory=list)
    signatures: dict[str, str] = field(default_factory=dict)  # key -> file signature


def _signature(paths: Sequence[Path], engine: str) -> str:
    files: list[Path] = []
    for p in paths:
        if engine == MLX:
            files += sorted(q for q in p.iterdir() if q.suffix in (".json", ".safetensors"))
        else:
            files.append(p)
    parts = []
    for f in files:
        st = f.stat()
        parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


class HeaderCache:
    """What each file's header said, so a warm start reads no headers at all."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "model-headers.json"
        self.data: dict[str, dict[str, Any]] = read_cache(
            self.path, HEADER_CACHE_SCHEMA, "files", valid=_valid_hit
        )
        self.dirty = False

    def get(self, path: Path, sig: str) -> dict[str, Any] | None:
        hit = self.data.get(str(path))
        return hit if hit and hit.get("sig") == sig else None

    def put(self, path: Path, sig: str, value: dict[str, Any]) -> None:
        self.data[str(path)] = {"sig": sig, **value}
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        stale = set(self.data) - keep
        for k in stale:
            del self.data[k]
        if self.dirty or stale:
            try:
                write_json_atomic(self.path, {"schema": HEADER_CACHE_SCHEMA, "files": self.data})
            except OSError as exc:  # a cache that cannot be written only costs speed
                log.warning("could not write the model header cache: %s", exc)
            self.dirty = False


def _valid_hit(value: Any) -> bool:
    """A header-cache entry this version can use (one from another version is read again)."""
    if not isinstance(value, dict) or not isinstance(value.get("sig"), str):
        return False
    if "problem" in value:
        return isinstance(value["problem"], str)
    entry = value.get("entry", False)
    if entry is None:
        return True
    try:
        ModelEntry.from_json(entry)
    except ValueError:
        return False
    return True


def _walk(root: ModelRoot, problems: list[ScanProblem]) -> Iterable[_Candidate]:
    """Depth-first over a root, following links but never into the same folder twice."""
    base = root.path
    seen: set[tuple[int, int]] = set()
    stack: list[tuple[Path, str]] = [(base, "")]
    while stack:
        folder, key_prefix = stack.pop()
        try:
            st = folder.stat()
        except OSError as exc:
            problems.append(ScanProblem(str(folder), f"unreadable folder ({exc.strerror or exc})"))
            continue
        ident = (st.st_dev, st.st_ino)
        if ident in seen:
            problems.append(ScanProblem(str(folder), "symbolic link loop (folder already scanned)"))
            continue
        seen.add(ident)
        try:
            children = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(ScanProblem(str(folder), f"unreadable folder ({exc.strerror or exc})"))
            continue
        names = {c.name for c in children}
        if folder != base and "config.json" in names and any(n.endswith(".safetensors") for n in names):
            yield _Candidate(key_prefix.rstrip("/"), [folder], MLX, root.label)
            continue
        files, folders = [], []
        for c in children:
            if _is_file(c):
                files.append(c)
            elif _is_dir(c):
                folders.append(c)
            elif c.name.lower().endswith(".gguf"):
                problems.append(ScanProblem(c.path, _not_a_file_reason(c)))
        yield from _gguf_candidates(files, key_prefix, root.label, problems)
        for c in reversed(folders):
            if root.layout == "hf" and folder == base:
                if c.name.startswith("models--"):
                    snap = _hf_snapshot(Path(c.path))
                    if snap is not None:
                        stack.append((snap, c.name.removeprefix("models--").replace("--", "/") + "/"))
                continue
            stack.append((Path(c.path), f"{key_prefix}{c.name}/"))


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _not_a_file_reason(entry: os.DirEntry[str]) -> str:
    try:
        os.stat(entry.path)
    except OSError as exc:
        if entry.is_symlink():
            return f"broken symbolic link ({exc.strerror or exc}): skipped"
        return f"unreadable ({exc.strerror or exc})"
    return "not a regular file (a pipe, socket or device): skipped"


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _hf_snapshot(repo_dir: Path) -> Path | None:
    """The snapshot `refs/main` points at, else the newest one."""
    snaps = repo_dir / "snapshots"
    try:
        ref = (repo_dir / "refs" / "main").read_text().strip()
        if (snaps / ref).is_dir():
            return snaps / ref
    except OSError:
        pass
    try:
        dirs = [p for p in snaps.iterdir() if p.is_dir()]
    except OSError:
        return None
    return max(dirs, key=lambda p: p.stat().st_mtime) if dirs else None


def _gguf_candidates(
    files: list[os.DirEntry[str]], key_prefix: str, source: str, problems: list[ScanProblem]
) -> Iterable[_Candidate]:
    splits: dict[tuple[str, int], dict[int, Path]] = {}
    for f in files:
        if not f.name.lower().endswith(".gguf") or "mmproj" in f.name.lower():
            continue
        m = SPLIT_RE.match(f.name)
        if m:
            splits.setdefault((m["base"], int(m["count"])), {})[int(m["no"])] = Path(f.path)
        else:
            yield _Candidate(key_prefix + f.name, [Path(f.path)], LLAMA_CPP, source)
    for (base, count), parts in splits.items():
        if 1 not in parts:
            first = min(parts.values())
            problems.append(
                ScanProblem(str(first), f"split model {base} is missing its first part (1 of {count})")
            )
            continue
        ordered = [parts[i] for i in sorted(parts)]
        missing = [str(i) for i in range(1, count + 1) if i not in parts]
        cand = _Candidate(key_prefix + ordered[0].name, ordered, LLAMA_CPP, source)
        if missing:
            cand.missing = f"split model is missing part {', '.join(missing)} of {count}"
        yield cand


def _entry_from_gguf(cand: _Candidate) -> ModelEntry | None:
    info = read_gguf(cand.paths[0])
    if info.is_projector or info.is_vocab_only:
        return None  # vision projectors and vocabulary-only files are not models
    params = info.parameter_count
    size = info.file_size
    for extra in cand.paths[1:]:
        part = read_gguf(extra)
        params += part.parameter_count
        size += part.file_size
    name = info.name
    m = SPLIT_RE.match(cand.paths[0].name)
    if m and not info.metadata.get("general.name"):
        name = m["base"]
    return ModelEntry(
        key=cand.key,
        name=name,
        engine=LLAMA_CPP,
        architecture=info.architecture,
        parameter_count=params,
        quantization=info.quantization,
        size_bytes=size,
        context_length=info.context_length,
        path=str(cand.paths[0]),
        vocab_json=info.vocab.to_json(),
        tokens_offset=info.tokens_offset,
        parts=[str(p) for p in cand.paths],
        source=cand.source,
    )


def _entry_from_mlx(cand: _Candidate) -> ModelEntry:
    info = read_mlx_folder(cand.paths[0])
    return ModelEntry(
        key=cand.key,
        name=info.name,
        engine=MLX,
        architecture=info.architecture,
        parameter_count=info.parameter_count,
        quantization=info.quantization,
        size_bytes=info.file_size,
        context_length=info.context_length,
        path=str(cand.paths[0]),
        vocab_json=info.vocab.to_json(),
        parts=[str(cand.paths[0])],
        source=cand.source,
    )


def _read_entry(cand: _Candidate) -> dict[str, Any]:
    """What the cache keeps for one candidate: {"entry": ...} or {"problem": reason}."""
    try:
        entry = _entry_from_mlx(cand) if cand.engine == MLX else _entry_from_gguf(cand)
        return {"entry": entry.to_json() if entry else None}
    except ModelFileError as exc:
        return {"problem": _short(str(exc))}
    except Exception as exc:  # anything odd about one file stays with that file
        log.info("could not read %s", cand.paths[0], exc_info=True)
        return {"problem": _short(f"{cand.paths[0].name}: unreadable ({type(exc).__name__}: {exc})")}


def _short(reason: str) -> str:
    """A reason quoting a corrupt file's text stays a line, in the cache too."""
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 3] + "..."


def _scan_one(cand: _Candidate, cache: HeaderCache) -> tuple[ModelEntry, str] | ScanProblem | None:
    primary = cand.paths[0]
    if cand.missing:
        return ScanProblem(str(primary), cand.missing)
    try:
        sig = _signature(cand.paths, cand.engine)
    except OSError as exc:
        return ScanProblem(str(primary), f"unreadable ({exc.strerror or exc})")
    hit = cache.get(primary, sig)
    if hit is None:
        hit = _read_entry(cand)
        cache.put(primary, sig, hit)
    if hit.get("problem"):
        return ScanProblem(str(primary), str(hit["problem"]))
    if not hit.get("entry"):
        return None
    try:
        entry = ModelEntry.from_json(dict(hit["entry"], key=cand.key, source=cand.source))
    except ValueError:  # a cache entry of another shape: read the header again
        hit = _read_entry(cand)
        cache.put(primary, sig, hit)
        if not hit.get("entry"):
            return ScanProblem(str(primary), str(hit["problem"])) if hit.get("problem") else None
        entry = ModelEntry.from_json(dict(hit["entry"], key=cand.key, source=cand.source))
    return entry, sig


def scan(roots: Sequence[ModelRoot], cache: HeaderCache | None = None) -> ScanResult:
    cache = cache or HeaderCache()
    result = ScanResult()
    seen_paths: set[str] = set()
    for root in roots:
        try:
            if not root.path.is_dir():
                continue
        except OSError:
            continue
        for cand in _walk(root, result.problems):
            seen_paths.add(str(cand.paths[0]))
            found = _scan_one(cand, cache)
            if isinstance(found, ScanProblem):
                result.problems.append(found)
            elif found is not None:
                _add_entry(result, *found, root.label)
    cache.save(seen_paths)
    return result


def _add_entry(result: ScanResult, entry: ModelEntry, sig: str, label: str) -> None:
    if entry.key in result.entries:
        entry.key = f"{label}:{entry.key}"
        if entry.key in result.entries:
            return  # the same folder listed twice
    result.entries[entry.key] = entry
    result.signatures[entry.key] = sig
