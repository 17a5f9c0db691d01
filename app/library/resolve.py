"""Which model a name means: the one resolver for what a user typed (`--model`, a request's
"model", a draft) and what the app stores (library keys), with one wording of its errors.

A library key wins; then, where files may be named (the command line, the app; never a request
to the server), the bundled model by its aliases (assembled on first use) and a path on disk,
in the library or not; then a library name, file name or unique part of a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import ModelFileError
from app.library.bundled import ProgressCallback, bundled_model_name, ensure_bundled_model
from app.library.draft_rules import engine_of
from app.library.entry import ModelEntry, RemoteInfo
from app.library.library import ModelLibrary
from app.library.paths import safe_resolve

BUNDLED_ALIASES = ("default", "gemma-3-270m", "gemma3-270m")
MAIN = "model"  # the roles a model is named in, as the errors say them
DRAFT = "draft model"


@dataclass(frozen=True)
class ModelRef:
    """A model by its canonical key: the library key, or the resolved path of a model outside
    every library folder (the command line accepts any path)."""

    key: str
    path: Path
    engine: str  # "llama.cpp", "MLX" or "remote"
    name: str
    remote: RemoteInfo | None = None  # where a model on a server is served

    @classmethod
    def of(cls, entry: ModelEntry) -> ModelRef:
        return cls(entry.key, Path(entry.path), entry.engine, entry.name, entry.remote)


class UnknownModelError(ModelFileError):
    """No model answers to this key, name or path. Its text is the one wording; `hinted` adds
    where the person reading it can look (each front end knows its own list of models)."""

    NAME, FILE, OUTSIDE, REMOTE = "name", "file", "outside", "remote"

    def __init__(self, spec: str, role: str = "model", kind: str = NAME) -> None:
        self.spec, self.role, self.kind = spec, role, kind
        if kind == self.FILE:
            text = f"{role} file not found: {spec}"
        elif kind == self.OUTSIDE:
            text = f"{spec} is not in a library folder"
        elif kind == self.REMOTE:
            text = (
                f"{spec} is a model on another server: this server serves the models on its own computer only"
            )
        else:
            text = f"no {role} named {spec!r} in the library"
        super().__init__(text)

    @property
    def is_draft(self) -> bool:
        return self.role == DRAFT

    def hinted(self, hint: str) -> str:
        return f"{self} ({hint})"


def resolve_model(
    spec: str | None,
    library: ModelLibrary,
    *,
    role: str = MAIN,
    files: bool = True,
    in_library: bool = False,
    progress: ProgressCallback | None = None,
) -> ModelRef:
    """The model `spec` names (None: the bundled model). `files`: whether it may name a file
    (a path, or the bundled model by an alias); `in_library`: refuse a file outside every
    library folder. A model on a server (`<server name>/<model>`) answers where files may be
    named (the command line, the app), never a request to the local server (`files=False`):
    it serves the models on this computer only. UnknownModelError when nothing answers."""
    if spec is not None and spec in library.entries:
        return ModelRef.of(library.entries[spec])
    if spec is not None:
        remote = _remote(spec, library, list_servers=files)
        if remote is not None:
            if not files:
                raise UnknownModelError(spec, role, UnknownModelError.REMOTE)
            return ModelRef.of(remote)
    path: Path | None = None
    if files:
        if spec is None or spec.lower() in BUNDLED_ALIASES or spec == bundled_model_name():
            path = ensure_bundled_model(progress)
        elif Path(spec).expanduser().exists():
            path = safe_resolve(Path(spec))
        elif Path(spec).expanduser().is_symlink():
            raise ModelFileError(f"{spec} is a broken symbolic link (its target is missing or loops)")
    if path is not None:
        entry = library.find(str(path))
        if entry is not None:
            return ModelRef.of(entry)
        if in_library:
            raise UnknownModelError(str(spec), role, UnknownModelError.OUTSIDE)
        return ModelRef(str(path), path, engine_of(path), path.name)
    assert spec is not None
    entry = library.find(spec)
    if entry is not None:
        return ModelRef.of(entry)
    if files and (spec.lower().endswith(".gguf") or spec.startswith(("/", "~", "."))):
        raise UnknownModelError(spec, role, UnknownModelError.FILE)
    raise UnknownModelError(spec, role)


def _remote(spec: str, library: ModelLibrary, list_servers: bool) -> ModelEntry | None:
    """The model on a server named `spec` (its key); the servers are asked once first when
    nothing matches what they listed last (`list_servers`)."""
    entry = library.remote_entries.get(spec)
    if (
        entry is None
        and list_servers
        and "/" in spec
        and spec.split("/", 1)[0] in {s.name for s in library.servers.servers()}
    ):
        library.ensure_servers_listed()
        entry = library.remote_entries.get(spec)
    return entry
