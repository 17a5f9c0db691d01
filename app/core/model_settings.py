"""Per-model settings, declared once: name, type, default, range, description.

The My Models page, the config sidebar, the server and the CLI all derive from this table;
`effective()` layers a model's saved defaults and a request's own values over the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.core.errors import InvalidRequestError
from app.core.request import DraftSettings, SamplingSettings


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

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def coerce(self, value: Any) -> Any:
        """The value as this setting's type, or InvalidRequestError saying what is wrong."""
        if value is None:
            if self.nullable:
                return None
            raise InvalidRequestError(f"{self.name} must not be empty")
        if self.kind is bool:
            if not isinstance(value, bool):
                raise InvalidRequestError(f"{self.name} must be true or false")
            return value
        if self.kind in (int, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidRequestError(f"{self.name} must be a number")
            if self.kind is int and float(value) != int(value):
                raise InvalidRequestError(f"{self.name} must be a whole number")
            value = self.kind(value)
            if self.minimum is not None and value < self.minimum:
                raise InvalidRequestError(f"{self.name} must be >= {self.minimum:g}")
            if self.maximum is not None and value > self.maximum:
                raise InvalidRequestError(f"{self.name} must be <= {self.maximum:g}")
            return value
        if not isinstance(value, str):
            raise InvalidRequestError(f"{self.name} must be text")
        return value


_S = SamplingSettings()
_D = DraftSettings()

MODEL_SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec(
        "draft_model",
        str,
        None,
        "Draft model used for speculative decoding (model key)",
        nullable=True,
        group="speculative",
        label="Draft Model",
    ),
    SettingSpec(
        "draft_auto",
        bool,
        True,
        "Choose each round's draft length from measured acceptance and cost (up to Max Draft Size), "
        "down to no drafting when it cannot pay",
        group="speculative",
        label="Auto Draft Length",
    ),
    SettingSpec(
        "draft_max",
        int,
        _D.max_draft_size,
        "Most tokens the draft proposes per round",
        1,
        64,
        group="speculative",
        label="Max Draft Size",
    ),
    SettingSpec(
        "draft_min",
        int,
        _D.min_draft_size,
        "Drafts shorter than this are ignored, never verified",
        0,
        64,
        group="speculative",
        label="Min Draft Size",
    ),
    SettingSpec(
        "draft_p_min",
        float,
        _D.p_min,
        "The draft stops when its top token is less likely than this",
        0.0,
        1.0,
        group="speculative",
        label="Drafting Probability Cutoff",
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
    ),
    SettingSpec(
        "system_prompt",
        str,
        "",
        "Instructions sent before every conversation",
        group="prompt",
        label="System Prompt",
    ),
    SettingSpec(
        "temperature",
        float,
        _S.temperature,
        "Randomness; 0 always picks the likeliest token",
        0.0,
        5.0,
        label="Temperature",
    ),
    SettingSpec(
        "top_k", int, _S.top_k, "Sample among the k likeliest tokens (0: all)", 0, 1000, label="Top K"
    ),
    SettingSpec(
        "top_p",
        float,
        _S.top_p,
        "Sample among the likeliest tokens totalling this probability",
        0.01,
        1.0,
        label="Top P",
    ),
    SettingSpec(
        "min_p",
        float,
        _S.min_p,
        "Drop tokens less likely than this fraction of the top token",
        0.0,
        1.0,
        label="Min P",
    ),
    SettingSpec(
        "repeat_penalty",
        float,
        _S.repeat_penalty,
        "Penalise recently used tokens (1: off)",
        0.5,
        2.0,
        label="Repeat Penalty",
    ),
    SettingSpec("max_tokens", int, 1024, "Longest reply in tokens", 1, 1_000_000, label="Max Tokens"),
)

SPECS: dict[str, SettingSpec] = {s.name: s for s in MODEL_SETTINGS}


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


def sampling_from(values: Mapping[str, Any], seed: int | None = None) -> SamplingSettings:
    return SamplingSettings(
        temperature=values["temperature"],
        top_k=values["top_k"],
        top_p=values["top_p"],
        min_p=values["min_p"],
        repeat_penalty=values["repeat_penalty"],
        seed=seed,
    )


def draft_from(values: Mapping[str, Any], engine: str = "llama.cpp") -> DraftSettings:
    """Draft settings for an engine: MLX drafts a fixed number of tokens per round."""
    if engine == "MLX":
        return DraftSettings(max_draft_size=values["mlx_draft_tokens"], min_draft_size=0, p_min=0.0)
    return DraftSettings(
        max_draft_size=values["draft_max"],
        min_draft_size=values["draft_min"],
        p_min=values["draft_p_min"],
        auto=bool(values["draft_auto"]),
    )


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
        "| Setting | key | type | default | range | description |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in MODEL_SETTINGS:
        rng = ""
        if s.minimum is not None or s.maximum is not None:
            rng = f"{_num(s.minimum)} to {_num(s.maximum)}"
        default = (
            "none" if s.default is None else repr(s.default) if isinstance(s.default, str) else s.default
        )
        lines.append(f"| {s.title} | `{s.name}` | {s.kind.__name__} | {default} | {rng} | {s.description} |")
    return "\n".join(lines) + "\n"
