"""Per-model settings, declared once: name, type, default, range, description, and the names
they go by on the command line and in the HTTP API.

Everything else derives from this table: the core dataclass defaults and `from_values`
(app/core/request.py, which reads this module, never the other way round),
the CLI flags (`add_cli_flags`), the API's field validation (`api_specs`) and its OpenAPI
schema (`openapi_properties`), the My Models page and the config sidebar, and
docs/settings.md (`markdown_table`). `effective()` layers a model's saved defaults and a
request's own values over the defaults.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from app.core.context_overflow import LABELS, ContextOverflow
from app.core.errors import InvalidRequestError


@dataclass(frozen=True)
class SettingSpec:
    name: str
    kind: type  # int, float, str or bool
    default: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    group: str = "sampling"
    label: str = ""
    cli: str | None = None  # command-line flag ("--draft-max"); a bool also gets "--no-..."
    api: str | None = None  # request body field ("draft_max"); None: not settable per request
    cli_help: str = ""  # when the flag needs other words than the description
    engines: tuple[str, ...] = ()  # the engines it applies to; () for every engine
    in_forms: bool = True  # a field in the settings forms (the draft model has its own dropdown)
    choices: tuple[str, ...] = ()  # a text setting that takes one of these values
    choice_labels: tuple[str, ...] = ()  # how the forms name each choice

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    @property
    def on_load(self) -> bool:
        """Applied when the model loads: the model's own, never a conversation's."""
        return self.group == "load"

    def applies_to(self, engine: str) -> bool:
        return not self.engines or engine in self.engines

    def problem(self, value: Any) -> str | None:
        """What is wrong with a value ("must be >= 1"), or None when it is fine."""
        if value is None:
            return None if self.nullable else "must not be empty"
        if self.kind is bool:
            return None if isinstance(value, bool) else "must be true or false"
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "must be a number"
            if not math.isfinite(value):
                return "must be a finite number"
            if self.kind is int and float(value) != int(value):
                return "must be a whole number"
            if self.minimum is not None and value < self.minimum:
                return f"must be >= {self.minimum:g}"
            if self.maximum is not None and value > self.maximum:
                return f"must be <= {self.maximum:g}"
            return None
        if not isinstance(value, str):
            return "must be text"
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}"
        return None

    def coerce(self, value: Any, field: str | None = None) -> Any:
        """The value as this setting's type, or InvalidRequestError naming `field` (default:
        the setting's name) and what is wrong."""
        problem = self.problem(value)
        if problem is not None:
            raise InvalidRequestError(f"{field or self.name} {problem}")
        if value is None or self.kind in (bool, str):
            return value
        return self.kind(value)

    def json_schema(self) -> dict[str, Any]:
        """This setting as an OpenAPI (JSON schema) property."""
        kinds = {int: "integer", float: "number", bool: "boolean", str: "string"}
        schema: dict[str, Any] = {"type": kinds[self.kind], "description": self.description}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        if self.nullable:
            schema["nullable"] = True
        if self.default is not None:
            schema["default"] = self.default
        if self.choices:
            schema["enum"] = list(self.choices)
        return schema


MODEL_SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "draft_model",
        str,
        None,
        "Draft model used for speculative decoding (model key)",
        nullable=True,
        group="speculative",
        label="Draft Model",
        cli="--draft",
        api="draft_model",
        cli_help="draft model: a path, a model key or name, or 'prompt-lookup' "
        "(default: the model's default draft from My Models)",
        in_forms=False,
    ),
    SettingSpec(
        "draft_auto",
        bool,
        True,
        "Learn the draft length and cutoff from measured acceptance and costs (up to Max Draft Size), "
        "down to no drafting when it cannot pay; the Drafting Probability Cutoff is then unused",
        group="speculative",
        label="Auto Draft Length",
        engines=("llama.cpp",),
        cli="--draft-auto",
        api="draft_auto",
    ),
    SettingSpec(
        "draft_max",
        int,
        16,
        "Most tokens the draft proposes per round",
        1,
        64,
        group="speculative",
        label="Max Draft Size",
        engines=("llama.cpp",),
        cli="--draft-max",
        api="draft_max",
    ),
    SettingSpec(
        "draft_min",
        int,
        0,
        "Drafts shorter than this are ignored, never verified",
        0,
        64,
        group="speculative",
        label="Min Draft Size",
        engines=("llama.cpp",),
        cli="--draft-min",
        api="draft_min",
    ),
    SettingSpec(
        "draft_p_min",
        float,
        0.75,
        "Without Auto: the draft stops when its top token is less likely than this",
        0.0,
        1.0,
        group="speculative",
        label="Drafting Probability Cutoff",
        engines=("llama.cpp",),
        cli="--draft-p-min",
        api="draft_p_min",
    ),
    SettingSpec(
        "mlx_draft_tokens",
        int,
        2,
        "Tokens the MLX draft model generates per round",
        1,
        10,
        group="speculative",
        label="Draft Tokens to Generate",
        engines=("MLX",),
        cli="--num-draft-tokens",
        api="num_draft_tokens",
    ),
    SettingSpec(
        "context_length",
        int,
        4096,
        "Tokens the model can see at once (applied on load)",
        256,
        1_048_576,
        group="load",
        label="Context Length",
        cli="--ctx",
    ),
    SettingSpec(
        "gpu_offload",
        int,
        0,
        "Layers offloaded to the GPU, -1 for all (applied on load)",
        -1,
        1000,
        group="load",
        label="GPU Offload",
        cli="--gpu-layers",
    ),
    SettingSpec(
        "system_prompt",
        str,
        "",
        "Instructions sent before every conversation",
        group="prompt",
        label="System Prompt",
        cli="--system",
        cli_help="system prompt (chat mode; default: the model's from My Models)",
    ),
    SettingSpec(
        "temperature",
        float,
        0.8,
        "Randomness; 0 always picks the likeliest token",
        0.0,
        5.0,
        label="Temperature",
        cli="--temperature",
        api="temperature",
    ),
    SettingSpec(
        "top_k",
        int,
        40,
        "Sample among the k likeliest tokens (0: all)",
        0,
        1000,
        label="Top K",
        cli="--top-k",
        api="top_k",
    ),
    SettingSpec(
        "top_p",
        float,
        0.95,
        "Sample among the likeliest tokens totalling this probability",
        0.01,
        1.0,
        label="Top P",
        cli="--top-p",
        api="top_p",
    ),
    SettingSpec(
        "min_p",
        float,
        0.05,
        "Drop tokens less likely than this fraction of the top token",
        0.0,
        1.0,
        label="Min P",
        cli="--min-p",
        api="min_p",
    ),
    SettingSpec(
        "repeat_penalty",
        float,
        1.1,
        "Penalise recently used tokens (1: off)",
        0.5,
        2.0,
        label="Repeat Penalty",
        cli="--repeat-penalty",
        api="repeat_penalty",
    ),
    SettingSpec(
        "max_tokens",
        int,
        1024,
        "Longest reply in tokens",
        1,
        1_000_000,
        label="Max Tokens",
        cli="--max-tokens",
        api="max_tokens",
    ),
    SettingSpec(
        "context_overflow",
        str,
        ContextOverflow.TRUNCATE_MIDDLE.value,
        "When the conversation outgrows the context: truncate-middle keeps the system prompt and the "
        "first user message and drops the oldest turns after it, rolling-window keeps the most recent "
        "turns, stop-at-limit stops a reply when the context is full (whole turns are dropped, never "
        "the system prompt nor the reply)",
        label="Context Overflow",
        cli="--context-overflow",
        api="context_overflow_policy",
        choices=tuple(p.value for p in ContextOverflow),
        choice_labels=tuple(LABELS[p] for p in ContextOverflow),
    ),
)

SPECS: dict[str, SettingSpec] = {s.name: s for s in MODEL_SETTINGS}


def default(name: str) -> Any:
    """One setting's built-in default (the core dataclasses take theirs from here)."""
    return SPECS[name].default


def defaults() -> dict[str, Any]:
    return {s.name: s.default for s in MODEL_SETTINGS}


def validate(values: Mapping[str, Any]) -> dict[str, Any]:
    """Check names and values; returns them coerced. Unknown names are an error."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        spec = SPECS.get(name)
        if spec is None:
            raise InvalidRequestError(f"unknown setting {name!r}")
        out[name] = spec.coerce(value)
    return out


def effective(
    saved: Mapping[str, Any] | None = None, request: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Defaults, then the model's saved values, then the request's own. None means unset; a
    request turns a saved draft off with draft_model "" (empty)."""
    out = defaults()
    for layer in (saved or {}, request or {}):
        out.update({k: v for k, v in layer.items() if k in SPECS and v is not None})
    if out["draft_model"] == "":
        out["draft_model"] = None
    return out


# --- the HTTP API ---------------------------------------------------------------------------
def api_specs() -> dict[str, SettingSpec]:
    """Request body field -> the setting it sets."""
    return {s.api: s for s in MODEL_SETTINGS if s.api}


def openapi_properties() -> dict[str, dict[str, Any]]:
    """The per-request settings as OpenAPI properties, ranges and defaults included."""
    return {field: spec.json_schema() for field, spec in api_specs().items()}


# --- the command line -------------------------------------------------------------------------
def _cli_dest(spec: SettingSpec) -> str:
    return spec.name


def _cli_type(spec: SettingSpec) -> Callable[[str], Any]:
    """Parse a flag's text with the setting's own rules, worded for argparse."""

    def parse(text: str) -> Any:
        try:
            value: Any = int(text) if spec.kind is int else float(text) if spec.kind is float else text
        except ValueError:
            raise argparse.ArgumentTypeError(
                "must be a whole number" if spec.kind is int else "must be a number"
            ) from None
        problem = spec.problem(value)
        if problem is not None:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = spec.kind.__name__  # argparse names the type in its messages
    return parse


def _range_text(spec: SettingSpec) -> str:
    if spec.minimum is None and spec.maximum is None:
        return ""
    return f", {_num(spec.minimum)} to {_num(spec.maximum)}"


def add_cli_flags(parser: argparse._ActionsContainer) -> None:
    """One flag per setting that has one; unset flags stay None (the model's defaults apply)."""
    for spec in MODEL_SETTINGS:
        if not spec.cli:
            continue
        help_text = spec.cli_help or f"{spec.title}: {spec.description}"
        if spec.kind is bool:
            parser.add_argument(
                spec.cli,
                dest=_cli_dest(spec),
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{help_text} (default: {'on' if spec.default else 'off'})",
            )
            continue
        if spec.kind is not str:
            help_text += f" (default {_num(spec.default)}{_range_text(spec)})"
        elif spec.choices:
            help_text = f"{spec.title}: {', '.join(spec.choices)} (default {spec.default})"
        parser.add_argument(
            spec.cli,
            dest=_cli_dest(spec),
            type=_cli_type(spec),
            default=None,
            metavar=_metavar(spec),
            help=help_text,
        )


def _metavar(spec: SettingSpec) -> str:
    if spec.choices:
        return "{" + ",".join(spec.choices) + "}"
    return spec.kind.__name__.upper() if spec.kind is not str else "TEXT"


def cli_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gave (None: not given)."""
    return {spec.name: getattr(args, _cli_dest(spec), None) for spec in MODEL_SETTINGS if spec.cli}


# --- docs -------------------------------------------------------------------------------------
def _num(x: float | None) -> str:
    if x is None:
        return "any"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def markdown_table() -> str:
    """The settings reference in docs/settings.md, derived from the declarations above."""
    lines = [
        "# Per-model settings",
        "",
        "Generated from `app/core/model_settings.py` (`python -m app settings-doc > docs/settings.md`).",
        "",
        "| Setting | key | CLI flag | API field | type | default | range | description |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in MODEL_SETTINGS:
        rng = ""
        if s.minimum is not None or s.maximum is not None:
            rng = f"{_num(s.minimum)} to {_num(s.maximum)}"
        elif s.choices:
            rng = ", ".join(f"`{c}`" for c in s.choices)
        default_text = (
            "none" if s.default is None else repr(s.default) if isinstance(s.default, str) else s.default
        )
        cli = "" if not s.cli else f"`{s.cli}`" + (f" / `--no-{s.cli[2:]}`" if s.kind is bool else "")
        api = f"`{s.api}`" if s.api else ""
        lines.append(
            f"| {s.title} | `{s.name}` | {cli} | {api} | {s.kind.__name__} | {default_text} | {rng} "
            f"| {s.description} |"
        )
    return "\n".join(lines) + "\n"
