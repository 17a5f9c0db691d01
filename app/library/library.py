"""The model library: every model found, the problems met, and what changed since last time."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.core.errors import ModelFileError
from app.library.atomic import read_json_file, set_aside, warn_user, write_json_atomic
from app.library.discovery import HeaderCache, ModelRoot, ScanResult, default_roots, scan
from app.library.entry import ModelEntry, ScanProblem
from app.library.mlx_meta import is_mlx_folder
from app.library.paths import config_dir, models_dir, safe_resolve

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


@dataclass
class ScanDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


class ModelLibrary:
    def __init__(self, roots: list[ModelRoot] | None = None, cache: HeaderCache | None = None) -> None:
        self._fixed_roots = roots
        self._cache = cache
        self._result = ScanResult()
        self.scanned = False

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
        self.ensure_scanned()
        return self._result.problems

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
