"""`specula doctor` and `--self-test`: what this installation can do, checked for real."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from typing import Any

from app import __version__


def add_parser(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="report engines, folders and models found")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=run)


def doctor_report() -> dict[str, Any]:
    """Everything `doctor` says. Reading the library, its caches and the settings files
    applies the same policy as a start of the app: what is damaged is set aside and warned about."""
    from app.chat.store_recovery import describe as describe_store
    from app.engines.availability import llama_cpp_report, mlx_report
    from app.library.app_state import AppState
    from app.library.atomic import file_warnings
    from app.library.bundled import bundled_model_path
    from app.library.compat_index import CompatibilityIndex
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.paths import cache_dir, config_dir, data_dir, models_dir
    from app.library.preferences import Preferences
    from app.library.server_keys import keyring_problem
    from app.logs import log_file

    library = ModelLibrary()
    entries = library.entries  # scans: problems with the caches are recorded as warnings
    library.refresh_servers()  # every server at once, each within the listing's timeout
    CompatibilityIndex(library)
    settings = {
        "preferences": Preferences().file,
        "app state": AppState().file,
        "per-model defaults": ModelDefaultsStore().file,
    }
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
        "settings": {name: {"path": str(f.path), "state": f.state} for name, f in settings.items()},
        "bundled_model": {"path": str(bundled_model_path()), "prepared": bundled_model_path().exists()},
        "conversations": describe_store(data_dir() / "conversations.sqlite3"),
        "models_found": len(entries),
        "servers": [
            {
                "name": listing.server.name,
                "url": listing.server.url,
                "reachable": listing.online,
                "kind": listing.kind.label if listing.online else None,
                "models": len(listing.models) if listing.online else None,
                "problem": listing.problem,
                "api_key": "in the system keyring" if listing.server.has_key else "none",
            }
            for listing in library.listings.values()
        ],
        "keyring": keyring_problem() or "available",
        "problems": [f"{p.path}: {p.reason}" for p in library.problems],
        "warnings": file_warnings(),
    }


def run(args: argparse.Namespace) -> int:
    report = doctor_report()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Specula {report['specula']} (Python {report['python']}, {report['platform']})")
    for name, info in report["engines"].items():
        if info.get("available"):
            extra = info.get("version") or info.get("device") or ""
            gpu = info.get("gpu_offload")
            print(
                f"  {name}: available {extra}"
                + ("" if gpu is None else f", GPU offload: {'yes' if gpu else 'no'}")
            )
        else:
            print(f"  {name}: not available" + (f" ({info['install']})" if "install" in info else ""))
    for name, value in report["folders"].items():
        print(f"  {name}: {value}")
    for name, info in report["settings"].items():
        print(f"  {name}: {info['state']} ({info['path']})")
    bundled = report["bundled_model"]
    print(f"  bundled model: {'prepared' if bundled['prepared'] else 'not prepared yet'} ({bundled['path']})")
    print(f"  conversations: {report['conversations']}")
    print(f"  models found: {report['models_found']}")
    print(f"  keyring (servers' API keys): {report['keyring']}")
    for server in report["servers"]:
        state = (
            f"reachable, {server['kind']}, {server['models']} models"
            if server["reachable"]
            else f"not listed: {server['problem']}"
        )
        print(f"  server {server['name']} ({server['url']}): {state}")
    for problem in report["problems"]:
        print(f"  problem: {problem}")
    for warning in report["warnings"]:
        print(f"  warning: {warning}")
    return 0


def self_test() -> int:
    """Load the bundled model, generate a few tokens with a draft (a second instance of the
    same file: always accepted), start Qt, exit 0. Used to check a packaged build; prints one
    line per step. It drives the engine directly, below the runtime, to check the engine itself."""
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
        assert result is not None
        assert not getattr(result, "error", None)
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
        from app.ui.self_check import qt_platform  # Qt lives in app/ui only

        print(f"Qt: {qt_platform()}")
    except Exception as exc:
        print(f"self-test failed: Qt did not start ({exc})", file=sys.stderr)
        return 1
    print("self-test passed")
    return 0
