"""llama.cpp's own speculative loop (`llama-speculative-simple`), built from the llama.cpp
source that the installed llama-cpp-python's sdist ships, so both run the same llama.cpp.

The sdist comes from pip (`pip download --no-binary :all:`; pip's cache answers when it has
it); the build lives outside the checkout, in the bench cache folder (SPECULA_BENCH_CACHE,
default: the platform's user cache folder, "specula-bench"), and is reused. Without a C++
compiler, cmake or the sdist, `reference_binary` returns None and a reason.

    python bench/llama_cpp_reference.py        # build (minutes on two cores), print the path
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

TARGET = "llama-speculative-simple"


def bench_cache() -> Path:
    import platformdirs

    root = os.environ.get("SPECULA_BENCH_CACHE") or platformdirs.user_cache_dir("specula-bench")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _version() -> str:
    from importlib.metadata import version

    return version("llama-cpp-python")


def _sdist(root: Path, version: str) -> Path:
    found = sorted(root.glob(f"llama_cpp_python-{version}.tar.gz"))
    if found:
        return found[0]
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
    return root / f"llama_cpp_python-{version}.tar.gz"


def reference_binary(log: bool = False) -> tuple[Path | None, str]:
    """The built binary, or None and why not."""
    missing = [tool for tool in ("cmake", "c++") if shutil.which(tool) is None]
    if missing:
        return None, f"no {' and no '.join(missing)} here: llama.cpp's loop was not built"
    try:
        version = _version()
    except Exception as exc:  # not installed from a distribution
        return None, f"llama-cpp-python's version is unknown ({exc})"
    root = bench_cache()
    build = root / f"llama.cpp-build-{version}"
    binary = build / "bin" / TARGET
    if binary.exists():
        return binary, ""
    try:
        sdist = _sdist(root, version)
        source = root / f"llama_cpp_python-{version}"
        if not source.exists():
            with tarfile.open(sdist) as tar:
                tar.extractall(root, filter="data")
        cpp = source / "vendor" / "llama.cpp"
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        out = None if log else subprocess.DEVNULL
        subprocess.run(
            [
                "cmake",
                "-S",
                str(cpp),
                "-B",
                str(build),
                *generator,
                "-DCMAKE_BUILD_TYPE=Release",
                "-DLLAMA_CURL=OFF",
                "-DLLAMA_OPENSSL=OFF",
                "-DLLAMA_BUILD_TESTS=OFF",
                "-DLLAMA_BUILD_SERVER=OFF",
                "-DLLAMA_BUILD_EXAMPLES=ON",
            ],
            check=True,
            stdout=out,
            stderr=out,
        )
        subprocess.run(
            [
                "cmake",
                "--build",
                str(build),
                "--target",
                TARGET,
                "llama-simple",
                "-j",
                str(os.cpu_count() or 1),
            ],
            check=True,
            stdout=out,
            stderr=out,
        )
    except (subprocess.SubprocessError, OSError, tarfile.TarError) as exc:
        return None, f"building llama.cpp's {TARGET} failed: {exc}"
    return (binary, "") if binary.exists() else (None, f"the build made no {TARGET}")


@dataclass
class ReferenceRun:
    tokens: int
    seconds: float
    drafted: int
    accepted: int
    text: str

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0


def run_reference(
    binary: Path,
    main: Path,
    draft: Path,
    prompt: str,
    n_predict: int,
    draft_max: int,
    threads: int,
    p_min: float = 0.0,
) -> ReferenceRun:
    """One greedy generation with llama.cpp's loop; its own decode timing and counts."""
    proc = subprocess.run(
        [
            str(binary),
            "-m",
            str(main),
            "-md",
            str(draft),
            "--spec-type",
            "draft-simple",
            "-p",
            prompt,
            "-n",
            str(n_predict),
            "--temp",
            "0",
            "--spec-draft-n-max",
            str(draft_max),
            "--spec-draft-n-min",
            "0",
            "--spec-draft-p-min",
            str(p_min),
            "-t",
            str(threads),
            "-c",
            "1024",
            "--log-colors",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    decoded = re.search(r"decoded\s+(\d+) tokens in\s+([\d.]+) seconds", out)
    drafted = re.search(r"n_drafted\s*=\s*(\d+)", out)
    accepted = re.search(r"n_accept\s*=\s*(\d+)", out)
    if proc.returncode != 0 or not (decoded and drafted and accepted):
        raise RuntimeError(f"{binary.name} failed (exit {proc.returncode}): {out[-400:]}")
    text = proc.stdout.split(prompt, 1)[-1] if prompt in proc.stdout else proc.stdout
    return ReferenceRun(
        int(decoded.group(1)), float(decoded.group(2)), int(drafted.group(1)), int(accepted.group(1)), text
    )


def plain_loop_binary(speculative: Path) -> tuple[Path | None, str]:
    """bench/plain_loop.cpp (llama.cpp's plain greedy loop at a chosen thread count), built
    next to `speculative` against the same llama.cpp; None and why when it cannot be."""
    build = speculative.parent
    binary = build / "plain_loop"
    source = Path(__file__).with_name("plain_loop.cpp")
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary, ""
    cpp = next(build.parent.parent.glob("llama_cpp_python-*/vendor/llama.cpp"), None)
    if cpp is None:
        return None, "llama.cpp's source is not in the bench cache"
    try:
        subprocess.run(
            [
                "c++",
                "-O2",
                "-std=c++17",
                f"-I{cpp / 'include'}",
                f"-I{cpp / 'ggml' / 'include'}",
                str(source),
                f"-L{build}",
                "-lllama",
                "-lggml",
                "-lggml-base",
                f"-Wl,-rpath,{build}",
                "-o",
                str(binary),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"building the plain loop failed: {exc}"
    return binary, ""


def run_plain_reference(binary: Path, main: Path, prompt: str, n_predict: int, threads: int) -> ReferenceRun:
    """One greedy generation with llama.cpp's plain loop (plain_loop_binary): tokens after
    the first and the seconds they took, as our replies measure."""
    proc = subprocess.run(
        [str(binary), str(main), str(threads), str(n_predict), prompt],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    evals = re.search(r"eval: (\d+) tokens in ([\d.]+) s", out)
    if proc.returncode != 0 or not evals:
        raise RuntimeError(f"{binary.name} failed (exit {proc.returncode}): {out[-400:]}")
    return ReferenceRun(int(evals.group(1)), float(evals.group(2)), 0, 0, "")


if __name__ == "__main__":
    path, why = reference_binary(log=True)
    print(path or why)
    sys.exit(0 if path else 1)
