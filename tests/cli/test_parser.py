"""The command line's grammar, as a user meets it: `python -m app --version`, `--help`."""

from __future__ import annotations

from tests.reliability.helpers import cli


def test_version_and_help_lists_every_command():
    assert cli("--version").stdout.startswith("specula ")
    text = cli("--help").stdout
    for command in ("generate", "models", "advise", "serve", "doctor", "settings-doc", "--self-test"):
        assert command in text
    assert "--verbose" in text
    assert "--version" in text


def test_every_setting_flag_is_generated_from_the_declarations():
    from app.core.model_settings import MODEL_SETTINGS

    text = cli("generate", "--help").stdout
    for spec in MODEL_SETTINGS:
        assert spec.cli, spec.name
        assert spec.cli in text, spec.name
    assert "--no-draft-auto" in text
    assert "1 to 64" in text
