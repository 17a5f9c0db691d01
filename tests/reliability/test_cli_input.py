"""Bad input on the command line ends in one readable line, never a traceback.

(NaN, infinite and out-of-range numbers for the generation settings are refused by the
settings declarations themselves; see tests/test_cli.py.)"""

from __future__ import annotations

import os

import pytest

from app.cli import main
from tests.reliability.helpers import assert_clean_failure, cli


@pytest.fixture
def no_log_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() in this process must not hang handlers on pytest's captured (later closed) stderr."""
    import app.logs

    monkeypatch.setattr(app.logs, "setup_logging", lambda verbose=False: app.logs.log_file())


def undecodable(raw: bytes) -> str:
    """The str Python makes of bytes from a shell that are not UTF-8."""
    return os.fsdecode(raw)


@pytest.mark.parametrize(
    ("flag", "raw", "needle"),
    [
        ("--prompt", b"caf\xe9", "--prompt is not valid UTF-8 text (byte 0xe9 at position 4)"),
        ("--system", b"\xed\xa0\x80", "--system is not valid UTF-8 text (byte 0xed at position 1)"),
        ("--stop", b"\xff", "--stop is not valid UTF-8 text"),
    ],
)
def test_text_that_is_not_utf8_is_refused_with_its_position(tiny_main, flag, raw, needle):
    args = ["generate", "--model", str(tiny_main), "--prompt", "hi", flag, undecodable(raw)]
    proc = cli(*args)
    assert_clean_failure(proc, needle)
    assert proc.returncode == 2


def test_a_lone_surrogate_given_to_main_is_refused(capsys, no_log_handlers):
    with pytest.raises(SystemExit) as exit_:
        main(["generate", "--prompt", "hi", "--system", "\ud800"])
    assert exit_.value.code == 2
    assert "--system is not valid UTF-8 text (character U+D800 at position 1)" in capsys.readouterr().err


@pytest.mark.parametrize("port", ["99999", "-1", "65536", "http"])
def test_serve_refuses_a_port_that_does_not_exist(port):
    proc = cli("serve", "--port", port, timeout=30)
    assert_clean_failure(proc, "--port")


def test_serve_on_a_host_name_that_cannot_be_encoded_is_one_line():
    proc = cli("serve", "--host", "a" * 300, "--api-key", "k", "--port", "5999", timeout=60)
    assert_clean_failure(proc, "cannot listen on")


def test_a_model_path_of_any_bytes_works(tmp_path, tiny_main):
    """File names need not be UTF-8 on Linux: such a model loads, lists and caches."""
    folder = tmp_path / "models"
    folder.mkdir()
    name = undecodable(b"caf\xe9.gguf")
    (folder / name).write_bytes(tiny_main.read_bytes())
    proc = cli("models", "--add-folder", str(folder))
    assert proc.returncode == 0, proc.stderr
    listing = cli("models")
    assert listing.returncode == 0, listing.stderr
    assert "caf\\udce9.gguf" in listing.stdout, listing.stderr
    again = cli("models")  # from the header cache this time
    assert again.returncode == 0, again.stderr
    assert again.stdout == listing.stdout, again.stderr
    proc = cli("generate", "--model", str(folder / name), "--prompt", "the", "--raw", "--max-tokens", "2")
    assert proc.returncode == 0, proc.stderr


def test_an_unexpected_error_is_one_line_and_the_log_has_the_rest(monkeypatch, capsys, no_log_handlers):
    import app.cli.models

    def broken(_args: object) -> int:
        raise KeyError("surprise")

    monkeypatch.setattr(app.cli.models, "run", broken)
    assert main(["models"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: unexpected KeyError: 'surprise' (details in ")
    assert "Traceback" not in err
