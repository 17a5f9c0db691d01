"""`specula doctor` and `--self-test`: what this installation can do, checked for real."""

from __future__ import annotations

import platform
import sys
from typing import Any

from app import __version__


def llama_cpp_report() -> dict[str, Any]:
    try:
        import llama_cpp as ll
    except ImportError as exc:  # pragma: no cover - a broken install
        return {"available": False, "error": str(exc)}
    info: dict[str, Any] = {"available": True, "version": getattr(ll, "__version__", "?")}
    try:
        info["gpu_offload"] = bool(ll.llama_supports_gpu_offload())
        info["system_info"] = ll.llama_print_system_info().decode(errors="replace").strip()
    except Exception as exc:  # older bindings lack some calls
        info["detail_error"] = str(exc)
    return info


def mlx_report() -> dict[str, Any]:
    from app.engines.mlx import INSTALL_HINT, mlx_available

    if not mlx_available():
        return {"available": False, "install": INSTALL_HINT}
    import mlx.core as mx

    return {"available": True, "device": str(mx.default_device())}


def doctor_report() -> dict[str, Any]:
    from app.chat.store_recovery import describe as describe_store
    from app.library.atomic import file_warnings
    from app.library.bundled import bundled_model_path
    from app.library.compat_index import CompatibilityIndex
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.paths import cache_dir, config_dir, data_dir, models_dir
    from app.logs import log_file

    library = ModelLibrary()
    entries = library.entries  # scans: problems with the caches are recorded as warnings
    ModelDefaultsStore()
    CompatibilityIndex(library)
    return {
        "specula": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "engines": {"llama.cpp": llama_cpp_report(), "MLX": mlx_report()},
        "folders": {
            "data": str(data_dir()),
            "models": str(models_dir()),
            "config": str(config_dir()),
            "cache": str(cache_dir()),
            "log file": str(log_file()),
            "searched": [str(r.path) for r in library.roots()],
        },
        "bundled_model": {"path": str(bundled_model_path()), "prepared": bundled_model_path().exists()},
        "conversations": describe_store(data_dir() / "conversations.sqlite3"),
        "models_found": len(entries),
        "problems": [f"{p.path}: {p.reason}" for p in library.problems],
        "warnings": file_warnings(),
    }


def self_test() -> int:
    """Load the bundled model, generate a few tokens with a draft (a second instance of the
    same file: always accepted), exit 0. Used to check a packaged build; prints one line per
    step. It drives the engine directly, below the runtime, to check the engine itself."""
    from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
    from app.engines.drafting import ModelDraft
    from app.engines.llamacpp import LlamaCppModel, LoadOptions
    from app.library.bundled import ensure_bundled_model

    path = ensure_bundled_model()
    print(f"bundled model: {path.name}")
    main = LlamaCppModel(path, LoadOptions(n_ctx=512))
    draft = LlamaCppModel(path, LoadOptions(n_ctx=512))
    try:
        request = GenerationRequest(
            prompt="The capital of France is",
            max_tokens=8,
            sampling=SamplingSettings(temperature=0.0),
            draft=DraftSettings(max_draft_size=4, p_min=0.0, auto=False),
        )
        result = None
        for item in main.generate(request, draft=ModelDraft(draft)):
            result = item
        assert result is not None and not getattr(result, "error", None)
        stats = result.stats  # type: ignore[union-attr]
        print(
            f"generated {stats.predicted_tokens_count} tokens, "
            f"{stats.accepted_draft_tokens_count} from the draft"
        )
        if stats.predicted_tokens_count < 1 or stats.accepted_draft_tokens_count < 1:
            print("self-test failed: no tokens or no accepted draft tokens", file=sys.stderr)
            return 1
    finally:
        main.close()
        draft.close()
    try:
        from PySide6.QtGui import QGuiApplication
        from PySide6.QtWidgets import QApplication

        if QApplication.instance() is None:
            QApplication(["specula", "-platform", "offscreen"])
        print(f"Qt: {QGuiApplication.platformName()}")
    except Exception as exc:
        print(f"self-test failed: Qt did not start ({exc})", file=sys.stderr)
        return 1
    print("self-test passed")
    return 0
