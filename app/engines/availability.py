"""Which engines this installation has, and what they can do: for `doctor` and About."""

from __future__ import annotations

from typing import Any


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
