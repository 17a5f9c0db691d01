"""Shared by the reliability tests: the CLI in a child process, a user who is not root, and
files damaged the ways users' files get damaged."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import numpy as np

from tests.library.mlx_fixtures import write_mlx_folder

REPO = Path(__file__).resolve().parents[2]
NOBODY = 65534


def cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m app ...` as a user runs it; arguments may carry undecodable bytes (as
    surrogate escapes, the way Python receives them from a shell)."""
    argv = [os.fsencode(a) for a in (sys.executable, "-m", "app", *args)]
    return subprocess.run(
        argv,
        capture_output=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        text=True,
        errors="backslashreplace",
    )


def assert_clean_failure(proc: subprocess.CompletedProcess[str], needle: str) -> None:
    """A refusal a person can read: one `error:` line, no traceback, no abort."""
    assert proc.returncode not in (0, 134, -6), (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert needle in proc.stderr, proc.stderr


def as_other_user(func: Callable[[], Any]) -> Any:
    """Run `func` where file permissions apply: in a forked child as `nobody` when we are root
    (root reads and writes any file), else here. Its result (or exception) comes back pickled."""
    if os.geteuid() != 0:
        return func()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only runs func
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            os.close(read_end)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            payload = pickle.dumps(("ok", func()))
        except BaseException as exc:
            payload = pickle.dumps(("error", f"{type(exc).__name__}: {exc}"))
            code = 1
        with os.fdopen(write_end, "wb") as out:
            out.write(payload)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as inp:
        data = inp.read()
    os.waitpid(pid, 0)
    kind, value = pickle.loads(data)
    if kind == "error":
        raise AssertionError(f"in the child: {value}")
    return value


# --- damaged model files -------------------------------------------------------------------------
def gguf_with_float_alignment(path: Path, alignment: float = 0.5) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_float32("general.alignment", alignment)
    w.add_tensor("w", np.zeros((4, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def mlx_folder(path: Path, config: dict[str, Any] | None = None, tokenizer: Any = None) -> Path:
    write_mlx_folder(path, ["<s>", "</s>", "a", "b"])
    if config:
        data = json.loads((path / "config.json").read_text())
        (path / "config.json").write_text(json.dumps({**data, **config}))
    if tokenizer is not None:
        (path / "tokenizer.json").write_text(json.dumps(tokenizer))
    return path


def every_bad_model(folder: Path) -> dict[str, str]:
    """One of each bad model file in `folder`: name -> words its problem row must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    gguf_with_float_alignment(folder / "float-alignment.gguf")
    mlx_folder(folder / "mlx-tokenizer-list", tokenizer=[1, 2, 3])
    mlx_folder(folder / "mlx-bits-x", config={"quantization": {"bits": "x", "group_size": 64}})
    mlx_folder(folder / "mlx-1000-layers", config={"num_hidden_layers": 1000})
    (folder / "mlx-1000-layers" / "model.safetensors").unlink()
    from tests.library.mlx_fixtures import write_safetensors

    write_safetensors(
        folder / "mlx-1000-layers" / "model.safetensors",
        {"model.layers.0.mlp.weight": np.zeros((2, 2)), "model.layers.1.mlp.weight": np.zeros((2, 2))},
    )
    loop = folder / "loop"
    loop.mkdir()
    (loop / "again").symlink_to(loop)
    (folder / "self-link.gguf").symlink_to(folder / "self-link.gguf")
    (folder / "dangling.gguf").symlink_to(folder / "gone.gguf")
    os.mkfifo(folder / "pipe.gguf")
    (folder / "text.gguf").write_text("not a model")
    from tests.library.gguf_damage import name_bit_flipped
    from tests.model_factory import write_tiny_gguf

    source = write_tiny_gguf(folder.parent / "tiny-source.gguf.tmp", n_embd=16, n_layer=1)
    name_bit_flipped(source, folder / "name-bit-27.gguf", 27)  # issue 29: a 134-million-character name
    source.unlink()
    return {
        "name-bit-27.gguf": "'general.name' is 134,217,",
        "float-alignment.gguf": "general.alignment",
        "mlx-tokenizer-list": "tokenizer.json is not a JSON object",
        "mlx-bits-x": "quantization bits 'x'",
        "mlx-1000-layers": "1000 layers but the weights hold 2",
        "again": "symbolic link loop",
        "self-link.gguf": "broken symbolic link",
        "dangling.gguf": "broken symbolic link",
        "pipe.gguf": "not a regular file",
        "text.gguf": "not a GGUF file",
    }
