"""First run, doctor, self-test, logs: what a person meets before the first reply."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

from app.logs import log_file, setup_logging

REPO = Path(__file__).resolve().parents[1]


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )


def test_help_lists_every_command():
    out = cli("--help").stdout
    for command in (
        "generate",
        "models",
        "advise",
        "serve",
        "doctor",
        "--self-test",
        "--verbose",
        "--version",
    ):
        assert command in out


def test_doctor_reports_engines_folders_and_models():
    proc = cli("doctor", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["engines"]["llama.cpp"]["available"] is True
    assert "gpu_offload" in report["engines"]["llama.cpp"]
    assert "MLX" in report["engines"] and "models" in report["folders"]
    assert isinstance(report["models_found"], int)
    text = cli("doctor").stdout
    assert "llama.cpp: available" in text and "log file" in text


def test_self_test_loads_the_bundled_model_and_drafts(tmp_path):
    proc = cli("--self-test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout and "from the draft" in proc.stdout


def test_logs_go_to_a_rotating_file_and_verbose_raises_the_level():
    path = setup_logging(verbose=False)
    assert path == log_file() and logging.getLogger().level == logging.INFO
    logging.getLogger("specula.test").info("hello log")
    for h in logging.getLogger().handlers:
        h.flush()
    assert "hello log" in path.read_text()
    setup_logging(verbose=True)
    assert logging.getLogger().level == logging.DEBUG
    setup_logging(verbose=False)
