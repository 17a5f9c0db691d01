"""A small disk of the test's own (a tmpfs mount) that a test fills up and frees again, for what
the app does when the disk is full. Mounting needs root (or CAP_SYS_ADMIN) on Linux; where the
test cannot mount one it is skipped, saying why."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SIZE = "4m"


class TinyDisk:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / ".filler"

    def fill(self) -> None:
        """Take every free byte (what the app writes next finds no room)."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for block in (65536, 4096, 1):
                with contextlib.suppress(OSError):
                    while True:
                        os.write(fd, b"\0" * block)
        finally:
            os.close(fd)

    def free(self) -> None:
        """Space returns."""
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def mounted(where: Path) -> Iterator[TinyDisk]:
    why = _cannot_mount()
    if why:
        pytest.skip(why)
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip() or proc.returncode}")
    try:
        yield TinyDisk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30, check=False)


def _cannot_mount() -> str:
    if not sys.platform.startswith("linux"):
        return "a tmpfs mount needs Linux"
    if os.geteuid() != 0:
        return "mounting a tmpfs needs root"
    if shutil.which("mount") is None:
        return "no mount command"
    return ""
