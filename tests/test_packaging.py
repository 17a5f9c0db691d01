"""The packaged app: PyInstaller one-folder build, then its self-check offscreen."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.mark.skipif(shutil.which("bash") is None, reason="the build script is a bash script")
def test_pyinstaller_build_starts_and_passes_its_self_test(tmp_path):
    pytest.importorskip("PyInstaller")
    proc = subprocess.run(
        ["bash", str(REPO / "packaging" / "build.sh"), str(tmp_path / "dist")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "self-test passed" in proc.stdout
    assert (tmp_path / "dist" / "specula" / "specula").exists()
