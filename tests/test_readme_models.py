"""The README's API examples name models a fresh install has: the bundled model (by its
library key) and prompt lookup, never a model only a developer's machine holds (a 404)."""

from __future__ import annotations

import re
from pathlib import Path

from app.library.bundled import bundled_model_path
from app.library.paths import models_dir

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_model_key_in_the_readme_is_on_a_fresh_install():
    bundled = bundled_model_path().relative_to(models_dir()).as_posix()
    keys = set(re.findall(r"[\w.-]+/[\w.-]+/[\w.-]+\.gguf", README.read_text(encoding="utf-8")))
    assert bundled in keys  # the examples use it
    assert keys == {bundled}
