"""Command line: `specula` / `python -m app [command]`.

Every failure a user can cause (bad arguments, a missing or broken model file, an
incompatible draft, a prompt too long) ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Sequence

from app import __version__
from app.core import model_settings
from app.core.errors import SpeculaError
from app.core.events import GenerationResult, TokenEvent
from app.core.request import ChatMessage, GenerationRequest, Role

EXIT_FAILURE = 1


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specula",
        description="Chat with local LLMs, faster with speculative decoding.",
    )
    parser.add_argument("--version", action="version", version=f"specula {__version__}")
    parser.add_argument(
        "--verbose", action="store_true", help="log debug details (to the log file and stderr)"
    )
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="load the bundled model, generate a few tokens with a draft, exit 0 on success",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    gen = sub.add_parser("generate", help="generate a reply headlessly and stream it to stdout")
    gen.add_argument(
        "--model", help="main model: a .gguf path or a model name (default: bundled Gemma 3 270M)"
    )
    gen.add_argument(
        "--draft",
        help="draft model for speculative decoding: a path or a model name "
        "(default: the model's default draft from My Models)",
    )
    gen.add_argument("--no-draft", action="store_true", help="ignore the model's default draft")
    gen.add_argument("--prompt", required=True, help="the user message (or the raw prompt with --raw)")
    gen.add_argument("--system", help="system prompt (chat mode)")
    gen.add_argument("--raw", action="store_true", help="send the prompt as-is, without the chat template")
    gen.add_argument("--max-tokens", type=_positive_int, default=None)
    gen.add_argument("--temperature", type=_non_negative_float, default=None, help="0 = greedy")
    gen.add_argument("--top-k", type=_non_negative_int, default=None)
    gen.add_argument("--top-p", type=_probability, default=None)
    gen.add_argument("--min-p", type=_probability, default=None)
    gen.add_argument("--repeat-penalty", type=_non_negative_float, default=None)
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    gen.add_argument("--draft-max", type=_positive_int, default=None, help="Max Draft Size")
    gen.add_argument("--draft-min", type=_non_negative_int, default=None, help="Min Draft Size")
    gen.add_argument("--draft-p-min", type=_probability, default=None, help="Drafting Probability Cutoff")
    gen.add_argument(
        "--draft-auto",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="Auto Draft Length: learned draft length and cutoff (default: the model's setting)",
    )
    gen.add_argument(
        "--num-draft-tokens", type=int, default=None, help="MLX: Draft Tokens to Generate (1-10)"
    )
    gen.add_argument(
        "--ctx", type=_positive_int, default=None, help="context length (default: model's, max 4096)"
    )
    gen.add_argument("--gpu-layers", type=int, default=None, help="layers to offload to the GPU (-1: all)")
    gen.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    gen.set_defaults(handler=_cmd_generate)

    from app.cli_models import add_advise_parser, add_models_parser

    add_models_parser(sub)
    add_advise_parser(sub)
    srv = sub.add_parser("serve", help="run the local OpenAI-compatible server")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    srv.add_argument("--port", type=int, default=1234)
    srv.add_argument(
        "--api-key", default=None, help="require 'Authorization: Bearer KEY' (needed off loopback)"
    )
    srv.add_argument("--cors", action="store_true", help="allow browser pages on other origins")
    srv.set_defaults(handler=_cmd_serve)
    doctor = sub.add_parser("doctor", help="report engines, folders and models found")
    doctor.add_argument("--json", action="store_true", help="print JSON")
    doctor.set_defaults(handler=_cmd_doctor)
    doc = sub.add_parser("settings-doc", help="print the per-model settings reference (Markdown)")
    doc.set_defaults(handler=lambda _args: print(model_settings.markdown_table(), end="") or 0)
    return parser


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """What the command line says; None (unset) leaves the model's defaults in place."""
    return {
        "temperature": args.temperature,
        "top_k": args.top_k,
        "top_p": args.top_p,
        "min_p": args.min_p,
        "repeat_penalty": args.repeat_penalty,
        "max_tokens": args.max_tokens,
        "draft_max": args.draft_max,
        "draft_min": args.draft_min,
        "draft_p_min": args.draft_p_min,
        "draft_auto": args.draft_auto,
        "context_length": args.ctx,
        "gpu_offload": args.gpu_layers,
        "draft_model": "" if args.no_draft else args.draft,
        "mlx_draft_tokens": args.num_draft_tokens,
    }


def _request_from(args: argparse.Namespace, values: dict[str, object], engine: str) -> GenerationRequest:
    sampling = model_settings.sampling_from(values, seed=args.seed)
    draft = model_settings.draft_from(values, engine)
    max_tokens = int(values["max_tokens"])  # type: ignore[call-overload]
    if args.raw:
        return GenerationRequest(
            prompt=args.prompt, max_tokens=max_tokens, sampling=sampling, draft=draft, stop=tuple(args.stop)
        )
    messages = []
    system = args.system if args.system is not None else values["system_prompt"]
    if system:
        messages.append(ChatMessage(Role.SYSTEM, str(system)))
    messages.append(ChatMessage(Role.USER, args.prompt))
    return GenerationRequest(
        messages=tuple(messages), max_tokens=max_tokens, sampling=sampling, draft=draft, stop=tuple(args.stop)
    )


class _Progress:
    """Percent progress on stderr: redrawn in place on a terminal, a few lines otherwise."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.last = -1
        self.step = 1 if sys.stderr.isatty() else 25

    def __call__(self, done: int, total: int) -> None:
        pct = 100 * done // max(total, 1)
        if pct // self.step == self.last // self.step and pct < 100:
            return
        self.last = pct
        if self.step == 1:
            print(f"\r{self.label}... {pct}%", end="\n" if pct >= 100 else "", file=sys.stderr, flush=True)
        else:
            print(f"{self.label}... {pct}%", file=sys.stderr, flush=True)


def _cmd_generate(args: argparse.Namespace) -> int:
    from app.engines.compatibility import check_draft
    from app.engines.drafting import PROMPT_LOOKUP_KEY, PromptLookupDraft
    from app.engines.llamacpp import LlamaCppModel, LoadOptions
    from app.engines.loader import load_any
    from app.engines.mlx import MLXModel
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.resolve import resolve_model

    progress = None if args.json else _Progress("Preparing the bundled model")
    library = ModelLibrary()
    main_ref = resolve_model(args.model, library, progress)
    values = ModelDefaultsStore().effective(main_ref.key, _overrides(args))
    request = _request_from(args, values, "MLX" if main_ref.path.is_dir() else "llama.cpp")
    request.validate()
    draft_spec = values["draft_model"]
    lookup = draft_spec == PROMPT_LOOKUP_KEY
    draft_path = resolve_model(str(draft_spec), library, progress).path if draft_spec and not lookup else None
    main_path = main_ref.path
    if draft_path is not None:
        verdict = check_draft(main_path, draft_path)
        if not verdict:
            raise SpeculaError(f"{draft_path.name} cannot draft for {main_path.name}: {verdict.reason}")
    options = LoadOptions(n_ctx=int(values["context_length"]), n_gpu_layers=int(values["gpu_offload"]))
    main_model = load_any(main_path, options)
    draft_model: object | None = load_any(draft_path, options) if draft_path else None
    if lookup:
        draft_model = PromptLookupDraft()
    cancel = threading.Event()
    result: GenerationResult | None = None
    tokens: list[dict[str, str]] = []
    try:
        for item in main_model.generate(request, draft=draft_model, cancel=cancel):
            if isinstance(item, TokenEvent):
                if args.json:
                    tokens.append({"text": item.text, "origin": item.origin.value})
                else:
                    sys.stdout.write(item.text)
                    sys.stdout.flush()
            elif isinstance(item, GenerationResult):
                result = item
    except KeyboardInterrupt:
        cancel.set()
        return 130
    finally:
        main_model.close()
        if isinstance(draft_model, (LlamaCppModel, MLXModel)):
            draft_model.close()
    assert result is not None
    if args.json:
        print(
            json.dumps(
                {"text": result.text, "tokens": tokens, "stats": result.stats.to_dict()}, ensure_ascii=False
            )
        )
    else:
        print()
        s = result.stats
        line = (
            f"{s.tokens_per_second:.1f} tok/s, {s.predicted_tokens_count} tokens, "
            f"first token {s.time_to_first_token:.2f}s, stop: {s.stop_reason.value}"
        )
        if s.draft_model:
            line += f", accepted {s.accepted_draft_tokens_count}/{s.total_draft_tokens_count} draft tokens"
        print(line, file=sys.stderr)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from app.doctor import doctor_report

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
    bundled = report["bundled_model"]
    print(f"  bundled model: {'prepared' if bundled['prepared'] else 'not prepared yet'} ({bundled['path']})")
    print(f"  models found: {report['models_found']}")
    for problem in report["problems"]:
        print(f"  problem: {problem}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from app.server.http_server import serve

    try:
        return serve(args.host, args.port, api_key=args.api_key, cors=args.cors)
    except OSError as exc:
        raise SpeculaError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from app.logs import setup_logging

    setup_logging(args.verbose)
    if args.self_test:
        from app.doctor import self_test

        return self_test()
    if args.command is None:
        from app.ui.app import run_app

        return run_app()
    try:
        return int(args.handler(args))
    except SpeculaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
