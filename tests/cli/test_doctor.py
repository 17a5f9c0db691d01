"""`specula doctor` and `--self-test`: the engines, folders, models and settings files, and every
warning about the app's own files, as the window shows them."""

from __future__ import annotations

import json

from app.library.paths import config_dir
from tests.reliability.helpers import cli


def test_doctor_reports_engines_folders_and_each_settings_file_and_sets_a_damaged_one_aside(run_cli):
    config_dir().mkdir(parents=True, exist_ok=True)
    (config_dir() / "ui-preferences.json").write_bytes(b"\xff not json")
    (config_dir() / "app-state.json").write_text(json.dumps({"welcomed": "yes", "last_model": "m"}))
    proc = cli("doctor", "--json", timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["engines"]["llama.cpp"]["available"] is True
    assert "gpu_offload" in report["engines"]["llama.cpp"]
    assert "MLX" in report["engines"]
    assert "models" in report["folders"]
    assert isinstance(report["models_found"], int)
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
    code, text, _ = run_cli("doctor")  # the next run: the damage is behind it
    assert code == 0
    assert "llama.cpp: available" in text
    assert "log file" in text
    assert f"  preferences: not saved yet ({config_dir() / 'ui-preferences.json'})" in text
    assert f"  app state: ok ({config_dir() / 'app-state.json'})" in text
    assert "warning:" not in text


def test_self_test_loads_the_bundled_model_drafts_and_starts_qt():
    proc = cli("--self-test", timeout=300, env={"QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "self-test passed" in proc.stdout
    assert "from the draft" in proc.stdout
    assert "Qt: offscreen" in proc.stdout
