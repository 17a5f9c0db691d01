"""Logs: a rotating file in the platformdirs log folder, and --verbose raises the level."""

from __future__ import annotations

import logging

from app.logs import log_file, setup_logging


def test_logs_go_to_a_rotating_file_and_verbose_raises_the_level():
    path = setup_logging(verbose=False)
    assert path == log_file()
    assert logging.getLogger().level == logging.INFO
    logging.getLogger("specula.test").info("hello log")
    for h in logging.getLogger().handlers:
        h.flush()
    assert "hello log" in path.read_text()
    setup_logging(verbose=True)
    assert logging.getLogger().level == logging.DEBUG
    setup_logging(verbose=False)
