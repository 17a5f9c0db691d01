"""Preferences, the app's saved state and per-model defaults: one store, one policy for a damaged
file (set aside or values dropped, with a warning the window and `doctor` show), and a change
applied to the file as it is now."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.library import settings_file
from app.library.app_state import AppState
from app.library.atomic import file_warnings
from app.library.model_defaults import ModelDefaultsStore
from app.library.paths import config_dir
from app.library.preferences import Preferences

STORES: dict[str, Callable[[], Any]] = {
    "ui-preferences.json": Preferences,
    "app-state.json": AppState,
    "model-defaults.json": ModelDefaultsStore,
}
WHAT = {
    "ui-preferences.json": "preferences",
    "app-state.json": "the app's saved state",
    "model-defaults.json": "per-model defaults",
}


def write(name: str, content: bytes) -> Path:
    path = config_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


@pytest.mark.parametrize("name", list(STORES))
@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe{}", b"[1, 2]", b'"text"'])
def test_a_damaged_settings_file_is_set_aside_with_a_warning(name, content):
    path = write(name, content)
    store = STORES[name]()
    assert store.file.state == settings_file.SET_ASIDE
    assert store.file.values == {}
    (kept,) = path.parent.glob(f"{name}.corrupt-*")
    assert kept.read_bytes() == content
    assert not path.exists()
    (warning,) = file_warnings()
    assert warning.startswith(f"{WHAT[name]} could not be read (")
    assert str(kept) in warning
    again = STORES[name]()  # the next start: nothing left to warn about
    assert again.file.state == settings_file.MISSING
    assert file_warnings() == [warning]


def test_preferences_of_another_kind_are_dropped_the_others_kept_with_a_copy():
    saved = {"theme": "purple", "show_rejected": 1, "visualize_drafts": False, "from_a_later_version": 3}
    path = write("ui-preferences.json", json.dumps(saved).encode())
    prefs = Preferences()
    assert prefs.get("theme") == "system"
    assert prefs.get("show_rejected") is False
    assert prefs.get("visualize_drafts") is False
    (warning,) = file_warnings()
    assert "theme must be one of" in warning
    assert "'from_a_later_version'" in warning
    (copy,) = path.parent.glob("ui-preferences.json.ignored-*")
    assert json.loads(copy.read_text()) == saved
    assert json.loads(path.read_text()) == {"visualize_drafts": False}  # rewritten once, clean
    with pytest.raises(ValueError, match="theme must be one of"):
        prefs.set("theme", "purple")
    prefs.set("show_rejected", True)
    assert Preferences().get("show_rejected") is True


def test_the_saved_state_of_another_kind_is_dropped_with_a_warning():
    write("app-state.json", json.dumps({"welcomed": "yes", "last_model": "m", "last_draft": 3}).encode())
    state = AppState()
    assert not state.welcomed
    assert state.last_pair() == ("m", "")
    assert "welcomed must be true or false" in file_warnings()[0]


def test_the_welcome_survives_a_window_that_read_the_state_before_it():
    """The window reads the state at start; the welcome is marked when it is closed, later. The
    window remembering its models afterwards must not undo the welcome (shown again next start)."""
    window = AppState()
    AppState().mark_welcomed()
    window.remember_pair("test/tiny/main.gguf", "")
    again = AppState()
    assert again.welcomed
    assert again.last_pair() == ("test/tiny/main.gguf", "")


def test_defaults_saved_elsewhere_meanwhile_are_kept():
    """`specula advise --save` while the app is open: the app's next change keeps it."""
    app = ModelDefaultsStore()
    ModelDefaultsStore().update("a", {"draft_model": "d"})
    app.update("b", {"top_k": 7})
    fresh = ModelDefaultsStore()
    assert fresh.get("a") == {"draft_model": "d"}
    assert fresh.get("b") == {"top_k": 7}


def test_a_choice_that_cannot_be_saved_is_kept_for_the_session(tmp_path):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    prefs = Preferences(blocked / "ui-preferences.json")
    prefs.set("theme", "dark")
    assert prefs.get("theme") == "dark"
    prefs.set("show_rejected", True)
    assert prefs.get("theme") == "dark"
    assert prefs.get("show_rejected") is True
