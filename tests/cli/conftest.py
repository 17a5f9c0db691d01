"""`main()` in the test's own process: for failures that end before a model loads, where a child
process (see tests.reliability.helpers.cli) would only add an interpreter's start."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.cli import main

RunCli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunCli:
    """(exit status, stdout, stderr) of `specula ARGS...`; no log handlers on pytest's streams."""
    import app.logs

    monkeypatch.setattr(app.logs, "setup_logging", lambda verbose=False: app.logs.log_file())

    def run(*args: str) -> tuple[int, str, str]:
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse refusing the arguments
            code = int(exit_.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
