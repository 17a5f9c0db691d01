"""llama.cpp's own `llama-server`, built from the llama.cpp source inside the installed
llama-cpp-python's sdist (so it runs the llama.cpp our engine runs), and started on
127.0.0.1 with a draft model for the remote-engine tests.

The sdist comes from pip (`pip download --no-binary :all:`; pip's cache or the local mirror
answers); the build lives next to the derived models (SPECULA_TEST_MODELS/llama-server) and
is reused by every later run and worktree. Without cmake, a C++ compiler or the sdist,
`llama_server_binary` returns None and why, and the tests that need it are skipped with it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.model_factory import model_cache_dir

TARGET = "llama-server"
BUILD_FLAGS = (  # the server alone: no web UI, no downloads, one static binary
    "-DCMAKE_BUILD_TYPE=Release",
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_OPENSSL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TOOLS=ON",
    "-DLLAMA_BUILD_UI=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
)
BUILD_TIMEOUT = 3 * 3600  # seconds: about 45 minutes on two cores


def _sdist(root: Path, version: str) -> Path:
    found = root / f"llama_cpp_python-{version}.tar.gz"
    if not found.exists():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                f"llama-cpp-python=={version}",
                "--no-binary",
                ":all:",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-d",
                str(root),
            ],
            check=True,
            capture_output=True,
            timeout=900,
        )
    return found


def llama_server_binary() -> tuple[Path | None, str]:
    """The built llama-server (built now when it is not yet: minutes), or None and why not."""
    from importlib.metadata import version as installed

    root = model_cache_dir() / "llama-server"
    try:
        version = installed("llama-cpp-python")
    except Exception as exc:  # not installed from a distribution
        return None, f"llama-cpp-python's version is unknown ({exc})"
    build = root / f"build-{version}"
    binary = build / "bin" / TARGET
    if binary.exists():
        return binary, ""
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        return None, f"no {' and no '.join(missing)} here: llama-server was not built"
    root.mkdir(parents=True, exist_ok=True)
    log = root / "build.log"
    try:
        sdist = _sdist(root, version)
        source = root / f"llama_cpp_python-{version}"
        if not source.exists():
            with tarfile.open(sdist) as tar:
                tar.extractall(root, filter="data")
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        with log.open("a") as out:
            cpp = source / "vendor" / "llama.cpp"
            subprocess.run(
                ["cmake", "-S", str(cpp), "-B", str(build), *generator, *BUILD_FLAGS],
                check=True,
                stdout=out,
                stderr=out,
                timeout=900,
            )
            subprocess.run(
                ["cmake", "--build", str(build), "--target", TARGET, "-j", str(os.cpu_count() or 1)],
                check=True,
                stdout=out,
                stderr=out,
                timeout=BUILD_TIMEOUT,
            )
    except (subprocess.SubprocessError, OSError, tarfile.TarError) as exc:
        return None, f"building llama-server failed ({exc}; see {log})"
    return (binary, "") if binary.exists() else (None, f"the build made no {TARGET} (see {log})")


@dataclass
class LlamaServer:
    url: str
    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def llama_server(
    binary: Path, main: Path, draft: Path, alias: str, draft_max: int = 4, api_key: str | None = None
) -> Iterator[LlamaServer]:
    """`llama-server -m MAIN -md DRAFT --spec-type draft-simple` on a free port of 127.0.0.1,
    one slot, greedy drafts; stopped at the end."""
    port = _free_port()
    args = [
        str(binary),
        "-m",
        str(main),
        "-md",
        str(draft),
        "--spec-type",
        "draft-simple",
        "--spec-draft-n-max",
        str(draft_max),
        "--spec-draft-n-min",
        "0",
        "--spec-draft-p-min",
        "0",
        "--alias",
        alias,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "-c",
        "2048",
        "-np",
        "1",
        "-t",
        "2",
    ]
    if api_key:
        args += ["--api-key", api_key]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    lines: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        lines.extend(line.rstrip("\n") for line in proc.stdout)  # appended as they come

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    server = LlamaServer(f"http://127.0.0.1:{port}", proc, lines)
    try:
        deadline = time.monotonic() + 180
        while True:  # /health answers 503 while the models load, 200 once they have
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("llama-server did not start:\n" + "\n".join(lines[-40:]))
            try:
                if httpx.get(f"{server.url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()


if __name__ == "__main__":
    path, why = llama_server_binary()
    print(path or why)
    sys.exit(0 if path else 1)
