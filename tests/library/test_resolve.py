"""The one model resolver: a key, a name, a file name or a path, with one wording of what went
wrong, for the command line, the server, the runtime and the app."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.errors import ModelFileError
from app.library.library import ModelLibrary
from app.library.paths import models_dir
from app.library.resolve import DRAFT, MAIN, UnknownModelError, resolve_model

KEY = "test/tiny/main.gguf"


@pytest.fixture
def library(tiny_main: Path) -> ModelLibrary:
    folder = models_dir() / "test" / "tiny"
    folder.mkdir(parents=True)
    os.link(tiny_main, folder / "main.gguf")
    return ModelLibrary()


def test_a_model_in_the_library_by_key_name_file_name_and_path(library):
    path = models_dir() / "test" / "tiny" / "main.gguf"
    for spec in (KEY, "main", "main.gguf", str(path)):
        ref = resolve_model(spec, library)
        assert (ref.key, ref.path, ref.engine) == (KEY, path, "llama.cpp"), spec
    assert resolve_model(KEY, library, files=False).key == KEY


def test_a_file_outside_the_library_by_path_only_where_files_may_be_named(library, tiny_main):
    ref = resolve_model(str(tiny_main), library)
    assert (ref.key, ref.name) == (str(tiny_main.resolve()), tiny_main.name)
    with pytest.raises(UnknownModelError) as err:
        resolve_model(str(tiny_main), library, files=False)  # a request to the server
    assert str(err.value) == f"no model named {str(tiny_main)!r} in the library"
    with pytest.raises(UnknownModelError) as err:
        resolve_model(str(tiny_main), library, in_library=True)
    assert str(err.value) == f"{tiny_main} is not in a library folder"
    assert err.value.hinted("add its folder") == f"{tiny_main} is not in a library folder (add its folder)"


def test_one_wording_for_what_is_not_there(library, tmp_path):
    cases = [
        (("nope", MAIN), "no model named 'nope' in the library", False),
        (("nope", DRAFT), "no draft model named 'nope' in the library", True),
        ((str(tmp_path / "gone.gguf"), MAIN), f"model file not found: {tmp_path / 'gone.gguf'}", False),
        ((str(tmp_path / "gone.gguf"), DRAFT), f"draft model file not found: {tmp_path / 'gone.gguf'}", True),
    ]
    for (spec, role), text, is_draft in cases:
        with pytest.raises(UnknownModelError) as err:
            resolve_model(spec, library, role=role)
        assert (str(err.value), err.value.is_draft) == (text, is_draft)
    link = tmp_path / "broken.gguf"
    link.symlink_to(tmp_path / "missing")
    with pytest.raises(ModelFileError, match="broken symbolic link"):
        resolve_model(str(link), library)
