"""`specula generate`: one reply, headless, streamed to stdout (or one JSON object)."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path
from typing import Any

from app.core import model_settings
from app.core.errors import InvalidRequestError, SpeculaError
from app.core.events import GenerationResult, TokenEvent
from app.core.request import (
    ChatMessage,
    DraftSettings,
    GenerationRequest,
    Role,
    SamplingSettings,
    overflow_policy,
)


def add_parser(sub: Any) -> None:
    gen = sub.add_parser("generate", help="generate a reply headlessly and stream it to stdout")
    gen.add_argument(
        "--model",
        help="main model: a .gguf path, a model name, or <server>/<model> for a model on a server "
        "added with `models --add-server` (default: bundled Gemma 3 270M)",
    )
    gen.add_argument("--no-draft", action="store_true", help="ignore the model's default draft")
    given = gen.add_mutually_exclusive_group(required=True)
    given.add_argument("--prompt", help="the user message (or the raw prompt with --raw)")
    given.add_argument(
        "--messages",
        metavar="FILE.json",
        help='a conversation: a JSON list of {"role": ..., "content": ...} messages (the reply continues it)',
    )
    gen.add_argument("--raw", action="store_true", help="send the prompt as-is, without the chat template")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    gen.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    settings = gen.add_argument_group(
        "per-model settings", "unset flags keep the model's defaults from My Models"
    )
    model_settings.add_cli_flags(settings)
    gen.set_defaults(handler=run)


def overrides(args: argparse.Namespace) -> dict[str, object]:
    """What the command line says; None (unset) leaves the model's defaults in place."""
    values = model_settings.cli_values(args)
    if args.no_draft:
        values["draft_model"] = ""
    return values


def _request_from(args: argparse.Namespace, values: dict[str, object], engine: str) -> GenerationRequest:
    common: dict[str, Any] = {
        "max_tokens": int(values["max_tokens"]),  # type: ignore[call-overload]
        "sampling": SamplingSettings.from_values(values, seed=args.seed),
        "draft": DraftSettings.from_values(values, engine),
        "stop": tuple(args.stop),
        "context_overflow": overflow_policy(values),
    }
    if args.raw:
        if args.prompt is None:
            raise InvalidRequestError("--raw takes --prompt (a raw prompt is not a conversation)")
        return GenerationRequest(prompt=args.prompt, **common)
    messages = []
    system = values["system_prompt"]
    given = read_messages(args.messages) if args.messages else [ChatMessage(Role.USER, args.prompt)]
    if system and not any(m.role in (Role.SYSTEM, Role.DEVELOPER) for m in given):
        messages.append(ChatMessage(Role.SYSTEM, str(system)))
    messages.extend(given)
    return GenerationRequest(messages=tuple(messages), **common)


def read_messages(path: str) -> list[ChatMessage]:
    """The conversation in a --messages file: a JSON list of {"role", "content"} objects."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidRequestError(f"cannot read the messages in {path}: {exc}") from None
    if not isinstance(data, list) or not data:
        raise InvalidRequestError(f"{path} must hold a JSON list of messages")
    out = []
    for i, m in enumerate(data):
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise InvalidRequestError(f'{path}: message {i} must be {{"role": ..., "content": "..."}}')
        out.append(ChatMessage.of(m["role"], m["content"]))
    return out


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


def run(args: argparse.Namespace) -> int:
    from app.library.library import ModelLibrary
    from app.library.model_defaults import ModelDefaultsStore
    from app.library.resolve import resolve_model
    from app.runtime import LoadSettings, ModelRuntime

    progress = None if args.json else _Progress("Preparing the bundled model")
    library = ModelLibrary()
    defaults = ModelDefaultsStore()
    main_ref = resolve_model(args.model, library, progress=progress)
    values = defaults.effective(main_ref.key, overrides(args))
    request = _request_from(args, values, main_ref.engine)
    request.validate()
    runtime = ModelRuntime(library, defaults)
    cancel = threading.Event()
    result: GenerationResult | None = None
    tokens: list[dict[str, str]] = []
    try:
        lease = runtime.lease(
            main_ref.key,
            values["draft_model"],
            cancel=cancel,
            settings=LoadSettings(int(values["context_length"]), int(values["gpu_offload"])),
        )
        with lease:
            for item in lease.generate(request, cancel=cancel):
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
        runtime.close()
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
        if s.draft_note:
            line += f" ({s.draft_note})"
        if s.truncated_turns:
            line += f", {s.truncated_turns} earlier messages beyond the context ({s.context_length} tokens)"
        print(line, file=sys.stderr)
    if result.error:
        raise SpeculaError(result.error)
    return 0
