"""Real model servers on 127.0.0.1 for the remote-engine tests: a second Specula (`python -m
app serve` in a child process with its own home and the Gemma pair in its library), its
request log read as it runs; and a test keyring (a real `keyring` backend in a file) so a
server's API key is kept the way the app keeps it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from keyring.backend import KeyringBackend

REPO = Path(__file__).resolve().parents[1]
KEYRING_FILE_ENV = "SPECULA_TEST_KEYRING_FILE"
GEMMA_MAIN = "test/gemma/gemma-3-270m-f16.gguf"  # the keys in the second Specula's library
GEMMA_DRAFT = "test/gemma/gemma-3-270m-q4_k_m.gguf"


class FileKeyring(KeyringBackend):
    """A keyring backend keeping passwords in one JSON file (SPECULA_TEST_KEYRING_FILE): the
    system keyring's stand-in where the machine has none, for this process and its children
    (PYTHON_KEYRING_BACKEND=tests.remote_servers.FileKeyring)."""

    priority = 1  # type: ignore[assignment]

    @staticmethod
    def _path() -> Path:
        return Path(os.environ[KEYRING_FILE_ENV])

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self._path().read_text())
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(f"{service}\n{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data[f"{service}\n{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        data = self._read()
        if data.pop(f"{service}\n{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path().write_text(json.dumps(data))


@dataclass
class SpeculaServer:
    """A second Specula serving its own library; `log` holds its request log lines."""

    url: str
    home: Path
    proc: subprocess.Popen[str]
    log: list[str] = field(default_factory=list)

    def wait_for_log(self, needle: str, timeout: float = 60) -> str | None:
        """The first log line holding `needle`, waiting for it (None if it never comes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.log):
                if needle in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        return None


def home_env(home: Path) -> dict[str, str]:
    """Every user folder of a child process under `home` (platformdirs reads XDG)."""
    env = {"HOME": str(home / "home")}
    for var, sub in (
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    (home / "home").mkdir(parents=True, exist_ok=True)
    return env


def place_models(home: Path, models: dict[str, Path]) -> None:
    """Link model files into the child's library (its models folder), by key."""
    for key, source in models.items():
        target = home / "data" / "Specula" / "models" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to(source)


@contextmanager
def specula_server(
    home: Path, models: dict[str, Path], api_key: str | None = None
) -> Iterator[SpeculaServer]:
    """`python -m app serve --port 0` with its own home and `models` (key -> file), stopped
    (Ctrl+C, as a person stops it) at the end."""
    env = {**os.environ, **home_env(home)}
    env.pop("PYTHON_KEYRING_BACKEND", None)
    place_models(home, models)
    args = [sys.executable, "-m", "app", "serve", "--port", "0", "--ttl", "600"]
    if api_key:
        args += ["--api-key", api_key]
    proc = subprocess.Popen(
        args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "Specula server on" in line:
                found.set()
        found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    found.wait(120)
    match = next(
        (re.search(r"Specula server on (http://\S+)", line) for line in lines if "server on" in line), None
    )
    if match is None:
        proc.kill()
        proc.wait()
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
        raise AssertionError("the second Specula did not start:\n" + "\n".join(lines))
    server = SpeculaServer(match.group(1), home, proc, lines)
    try:
        yield server
    finally:
        proc.send_signal(signal.SIGTERM)  # stops it as Ctrl+C does, even where SIGINT is ignored
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(10)
        assert proc.stdout is not None
        proc.stdout.close()
