"""The model library: every model found, the problems met, and what changed since last time.

Models on this computer are `entries`; models on the servers added as model sources are
`remote_entries` (listed by `refresh_servers`, which never takes longer than its timeout;
until a server answers, its models are the ones it listed last time, shown offline);
`all_entries` is both, for the model bar, My Models and the command line. The local server
serves `entries` only.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.errors import ModelFileError
from app.library.atomic import read_cache, read_json_file, set_aside, warn_user, write_json_atomic
from app.library.discovery import HeaderCache, ModelRoot, ScanResult, default_roots, scan
from app.library.entry import ModelEntry, ScanProblem
from app.library.mlx_meta import is_mlx_folder
from app.library.paths import cache_dir, config_dir, models_dir, safe_resolve
from app.library.server_listing import LIST_TIMEOUT, ServerListing, kind_of, list_server, remote_entry
from app.library.servers import RemoteServer, ServerRegistry

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass
class ScanDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


SERVER_CACHE_SCHEMA = 1
NOT_CHECKED = "not checked yet"


class ModelLibrary:
    def __init__(
        self,
        roots: list[ModelRoot] | None = None,
        cache: HeaderCache | None = None,
        servers: ServerRegistry | None = None,
        server_timeout: float = LIST_TIMEOUT,
    ) -> None:
        self._fixed_roots = roots
        self._cache = cache
        self._result = ScanResult()
        self.scanned = False
        self._servers = servers
        self.server_timeout = server_timeout
        self._remote: dict[str, ModelEntry] | None = None  # None: not read yet
        self._server_problems: list[ScanProblem] = []
        self.servers_listed = False
        self.listings: dict[str, ServerListing] = {}  # by server name, from the last refresh

    # --- folders --------------------------------------------------------------------------
    @staticmethod
    def _settings_path() -> Path:
        return config_dir() / "library.json"

    def extra_folders(self) -> list[Path]:
        """Folders the user added. A file of another shape is set aside (it holds the user's
        choices) with a warning, and the list starts empty."""
        path = self._settings_path()
        try:
            data = read_json_file(path)
        except FileNotFoundError:
            return []
        except OSError as exc:
            warn_user(f"cannot read the added model folders ({path}): {exc.strerror or exc}")
            return []
        except ValueError as exc:
            data, why = None, str(exc)
        else:
            why = "unexpected shape"
        folders = data.get("extra_folders", []) if isinstance(data, dict) else None
        if not isinstance(folders, list) or not all(isinstance(p, str) for p in folders):
            backup = set_aside(path)
            kept = f"; kept as {backup}" if backup else ""
            warn_user(f"the list of added model folders was unreadable ({why}){kept}: add them again")
            return []
        return [Path(p) for p in folders]

    def add_folder(self, folder: Path) -> None:
        folder = safe_resolve(folder)
        if not folder.is_dir():
            raise ModelFileError(f"not a folder: {folder}")
        folders = [p for p in self.extra_folders() if p != folder] + [folder]
        write_json_atomic(self._settings_path(), {"extra_folders": [str(p) for p in folders]})

    def remove_folder(self, folder: Path) -> None:
        folder = safe_resolve(folder)
        folders = [p for p in self.extra_folders() if p != folder]
        write_json_atomic(self._settings_path(), {"extra_folders": [str(p) for p in folders]})

    def roots(self) -> list[ModelRoot]:
        return self._fixed_roots if self._fixed_roots is not None else default_roots(self.extra_folders())

    # --- scanning -------------------------------------------------------------------------
    def rescan(self) -> ScanDiff:
        old, old_sigs = self._result.entries, self._result.signatures
        self._result = scan(self.roots(), self._cache or HeaderCache())
        self.scanned = True
        new = self._result.entries
        return ScanDiff(
            added=sorted(set(new) - set(old)),
            removed=sorted(set(old) - set(new)),
            changed=sorted(
                k for k in set(new) & set(old) if self._result.signatures.get(k) != old_sigs.get(k)
            ),
        )

    def ensure_scanned(self) -> None:
        if not self.scanned:
            self.rescan()

    @property
    def entries(self) -> dict[str, ModelEntry]:
        self.ensure_scanned()
        return self._result.entries

    @property
    def problems(self) -> list[ScanProblem]:
        """The files that are not usable models, then the servers that could not be listed."""
        self.ensure_scanned()
        return [*self._result.problems, *self._server_problems]

    @property
    def all_entries(self) -> dict[str, ModelEntry]:
        """This computer's models and the servers' (a server's own name first in its keys)."""
        return {**self.remote_entries, **self.entries}

    def entry(self, key: str) -> ModelEntry | None:
        """A model by its key, on this computer or on a server."""
        return self.entries.get(key) or self.remote_entries.get(key)

    # --- models on servers --------------------------------------------------------------------
    @property
    def servers(self) -> ServerRegistry:
        if self._servers is None:
            self._servers = ServerRegistry()
        return self._servers

    @property
    def remote_entries(self) -> dict[str, ModelEntry]:
        """The servers' models as last listed; before any listing in this process, the ones
        remembered from the last one (offline: not checked yet). Never waits on a server."""
        if self._remote is None:
            self._remote = self._remembered()
        return self._remote

    @property
    def server_problems(self) -> list[ScanProblem]:
        return list(self._server_problems)

    def ensure_servers_listed(self) -> None:
        if not self.servers_listed:
            self.refresh_servers()

    def refresh_servers(self) -> ScanDiff:
        """Ask every server for its models, all at once, each within `server_timeout`; an
        unreachable one is a problem row and its remembered models are shown offline."""
        servers = self.servers.servers()
        old = set(self.remote_entries)
        listings: list[ServerListing] = []
        if servers:
            with ThreadPoolExecutor(max_workers=min(8, len(servers)), thread_name_prefix="servers") as pool:
                listings = list(pool.map(lambda s: list_server(s, self.server_timeout), servers))
        remembered = self._remembered_fields()
        entries: dict[str, ModelEntry] = {}
        problems: list[ScanProblem] = []
        for listing in listings:
            server = listing.server
            if listing.online:
                remembered[server.name] = {
                    "url": server.url,
                    "kind": listing.kind.value,
                    "models": listing.models,
                }
                fields, kind, detail = listing.models, listing.kind, ""
            else:
                problems.append(
                    ScanProblem(f"{server.url} ({server.name})", f"server {server.name}: {listing.problem}")
                )
                saved = remembered.get(server.name, {})
                fields = saved.get("models", []) if saved.get("url") == server.url else []
                kind, detail = kind_of(str(saved.get("kind", ""))), str(listing.problem)
            for f in fields:
                entry = remote_entry(server, kind, f, listing.online, detail)
                entries.setdefault(entry.key, entry)
        self._remote = entries
        self._server_problems = problems
        self.listings = {listing.server.name: listing for listing in listings}
        self.servers_listed = True
        keep = {s.name for s in servers}
        self._remember({k: v for k, v in remembered.items() if k in keep})
        return ScanDiff(added=sorted(set(entries) - old), removed=sorted(old - set(entries)))

    def add_server(self, url: str, name: str | None = None, api_key: str | None = None) -> RemoteServer:
        return self.servers.add(url, name, api_key)

    def remove_server(self, name: str) -> bool:
        removed = self.servers.remove(name)
        if removed and self._remote is not None:
            self._remote = {k: e for k, e in self._remote.items() if e.source != name}
            self._server_problems = [p for p in self._server_problems if not p.path.endswith(f"({name})")]
        return removed

    @staticmethod
    def _server_cache_path() -> Path:
        return cache_dir() / "server-models.json"

    def _remembered_fields(self) -> dict[str, dict[str, Any]]:
        return read_cache(self._server_cache_path(), SERVER_CACHE_SCHEMA, "servers", valid=_valid_remembered)

    def _remembered(self) -> dict[str, ModelEntry]:
        entries: dict[str, ModelEntry] = {}
        saved = self._remembered_fields()
        for server in self.servers.servers():
            data = saved.get(server.name)
            if data is None or data.get("url") != server.url:
                continue
            for f in data.get("models", []):
                entry = remote_entry(server, kind_of(str(data.get("kind", ""))), f, False, NOT_CHECKED)
                entries.setdefault(entry.key, entry)
        return entries

    def _remember(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            write_json_atomic(self._server_cache_path(), {"schema": SERVER_CACHE_SCHEMA, "servers": data})
        except OSError as exc:  # a cache: the next start shows no offline models, nothing else
            log.warning("could not remember the servers' models: %s", exc)

    def signature(self, key: str) -> str:
        return self._result.signatures.get(key, "")

    def find(self, spec: str) -> ModelEntry | None:
        """A model by key, path, file name or name; a unique partial key match is accepted."""
        entries = self.entries
        if spec in entries:
            return entries[spec]
        as_path = str(safe_resolve(Path(spec))) if ("/" in spec or spec.endswith(".gguf")) else None
        wanted = spec.lower()
        exact = [
            e
            for e in entries.values()
            if (as_path and str(safe_resolve(Path(e.path))) == as_path)
            or wanted in (e.key.lower(), e.name.lower(), Path(e.path).name.lower(), Path(e.path).stem.lower())
        ]
        if len(exact) == 1:
            return exact[0]
        partial = exact or [e for e in entries.values() if wanted in e.key.lower()]
        return partial[0] if len(partial) == 1 else None

    # --- importing ------------------------------------------------------------------------
    def import_model(self, source: Path, progress: ProgressCallback | None = None) -> ModelEntry:
        """Copy a GGUF file or an MLX folder into the app's models folder (imported/...)."""
        source = source.expanduser()
        if source.is_dir():
            if not is_mlx_folder(source):
                raise ModelFileError(f"{source} is not an MLX model folder (config.json and .safetensors)")
            files = [p for p in source.iterdir() if p.is_file()]
        elif source.is_file() and source.suffix.lower() == ".gguf":
            from app.library.gguf_meta import read_gguf

            read_gguf(source)  # refuse a broken file before copying it
            files = [source]
        else:
            raise ModelFileError(f"cannot import {source}: choose a .gguf file or an MLX model folder")
        dest_root = models_dir() / "imported"
        target = dest_root / source.name
        if target.exists():
            raise ModelFileError(f"{source.name} is already in the library ({target})")
        tmp = dest_root / f".{source.name}.importing"
        shutil.rmtree(tmp, ignore_errors=True)
        total = sum(f.stat().st_size for f in files)
        done = 0
        try:
            tmp.mkdir(parents=True)
            for f in files:
                with f.open("rb") as src, (tmp / f.name).open("wb") as dst:
                    while block := src.read(4 * 1024 * 1024):
                        dst.write(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            if source.is_dir():
                tmp.rename(target)
            else:
                (tmp / source.name).rename(target)
                tmp.rmdir()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.rescan()
        for entry in self.entries.values():
            if Path(entry.path) == target:
                return entry
        raise ModelFileError(f"imported {source.name}, but it was not recognised as a model")


def _valid_remembered(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("url"), str)
        and isinstance(value.get("models"), list)
        and all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in value["models"])
    )
