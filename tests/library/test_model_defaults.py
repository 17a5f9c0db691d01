from __future__ import annotations

import json

import pytest

from app.core import model_settings
from app.core.errors import InvalidRequestError
from app.library.model_defaults import ModelDefaultsStore


def test_saved_defaults_apply_unless_the_request_says_otherwise():
    store = ModelDefaultsStore()
    store.update("m", {"temperature": 0.2, "draft_model": "d", "draft_max": 4})
    again = ModelDefaultsStore()
    assert again.get("m") == {"temperature": 0.2, "draft_model": "d", "draft_max": 4}
    eff = again.effective("m", {"temperature": 0.9, "top_k": None})
    assert eff["temperature"] == 0.9
    assert eff["draft_model"] == "d"
    assert eff["draft_max"] == 4
    assert eff["top_k"] == model_settings.SPECS["top_k"].default
    assert again.effective("m", {"draft_model": ""})["draft_model"] is None
    assert again.effective("other")["draft_model"] is None


def test_file_is_versioned_and_values_equal_to_defaults_are_not_stored():
    store = ModelDefaultsStore()
    store.update("m", {"top_p": 0.5})
    store.update("m", {"top_p": model_settings.SPECS["top_p"].default})
    data = json.loads(store.path.read_text())
    assert data == {"schema": 1, "models": {}}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"temperature": -1}, ">= 0"),
        ({"top_k": 1.5}, "whole number"),
        ({"nope": 1}, "unknown setting"),
        ({"draft_p_min": "high"}, "number"),
        ({"system_prompt": 3}, "text"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_saved(values, message):
    store = ModelDefaultsStore()
    with pytest.raises(InvalidRequestError, match=message):
        store.update("m", values)
    assert not store.path.exists()


def test_corrupt_file_is_set_aside_with_a_warning():
    store = ModelDefaultsStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text("{ this is not json")
    fresh = ModelDefaultsStore()
    assert fresh.get("m") == {}
    assert fresh.file.warnings
    backups = list(store.path.parent.glob("model-defaults.json.corrupt-*"))
    assert len(backups) == 1
    assert backups[0].read_text() == "{ this is not json"
    fresh.update("m", {"top_k": 7})
    assert ModelDefaultsStore().get("m") == {"top_k": 7}


def test_every_setting_is_declared_once_with_a_valid_default():
    names = [s.name for s in model_settings.MODEL_SETTINGS]
    assert len(names) == len(set(names))
    for spec in model_settings.MODEL_SETTINGS:
        assert spec.description
        assert spec.coerce(spec.default) == spec.default


def test_settings_reference_in_docs_is_generated_from_the_declarations():
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
    assert doc.read_text() == model_settings.markdown_table(), (
        "run: python -m app settings-doc > docs/settings.md"
    )
