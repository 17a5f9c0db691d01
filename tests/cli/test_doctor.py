"""`specula doctor`: the settings files' state and every warning about them, as the window shows."""

from __future__ import annotations

import json

from app.library.paths import config_dir
from tests.reliability.helpers import cli


def test_doctor_reports_each_settings_file_and_sets_a_damaged_one_aside():
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "ui-preferences.json").write_bytes(b"\xff not json")
    (config_dir() / "app-state.json").write_text(json.dumps({"welcomed": "yes", "last_model": "m"}))
    proc = cli("doctor", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    states = {name: info["state"] for name, info in report["settings"].items()}
    assert states == {
        "preferences": "set aside",
        "app state": "some values ignored",
        "per-model defaults": "not saved yet",
    }
    assert report["settings"]["preferences"]["path"] == str(config_dir() / "ui-preferences.json")
    (kept,) = config_dir().glob("ui-preferences.json.corrupt-*")
    assert any(w.startswith("preferences could not be read") and str(kept) in w for w in report["warnings"])
    assert any("welcomed must be true or false" in w for w in report["warnings"])
    text = cli("doctor", timeout=60).stdout  # the next run: the damage is behind it
    assert f"  preferences: not saved yet ({config_dir() / 'ui-preferences.json'})" in text
    assert f"  app state: ok ({config_dir() / 'app-state.json'})" in text
    assert "warning:" not in text
