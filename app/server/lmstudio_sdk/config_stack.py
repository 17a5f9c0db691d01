"""The SDK's settings: KV config stacks (layers of `{key, value}` fields, later layers winning)
read into our per-request settings, checked against their declarations.

Prediction keys (`llm.prediction.*`) map to the settings the HTTP API takes; the draft ones
(`llm.prediction.speculativeDecoding.*`) to our draft settings:

    draftModel                      draft_model ("" for none; a key or name; "prompt-lookup")
    maxTokensToDraft                draft_max
    minDraftLengthToConsider        draft_min
    minContinueDraftingProbability  draft_p_min (a fixed cutoff: Auto off)
    numDraftTokensExact             MLX: num_draft_tokens; llama.cpp: draft_max with no cutoff
                                    (exactly that many per round, as far as the draft goes)

A key this server cannot honour (tools, structured output, a custom prompt template, another
context overflow policy, ...) is refused by name; the few that change nothing in the reply
(CPU threads, llama.cpp's draft reuse window) are accepted and have no effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core import model_settings
from app.core.errors import InvalidRequestError
from app.library.entry import MLX
from app.server.lmstudio_sdk.wire import SdkError

P = "llm.prediction."
SD = P + "speculativeDecoding."
COMPLETION_LAYER = "completeModeFormatting"  # both SDKs' complete(): the prompt as it is
MAX_STOPS = 16

# key -> our setting, for plain values
PLAIN = {
    P + "temperature": "temperature",
    P + "topKSampling": "top_k",
    SD + "maxTokensToDraft": "draft_max",
    SD + "minDraftLengthToConsider": "draft_min",
}
# key -> (our setting, its value when the SDK's checkbox is off)
CHECKBOX = {
    P + "maxPredictedTokens": ("max_tokens", None),  # off: the model's own Max Tokens
    P + "topPSampling": ("top_p", 1.0),
    P + "minPSampling": ("min_p", 0.0),
    P + "repeatPenalty": ("repeat_penalty", 1.0),
}
NO_EFFECT = {P + "llama.cpuThreads", SD + "numReuseTokens", P + "toolNaming", P + "toolChoice"}


def _none_type(value: Any) -> bool:
    return value is None or (isinstance(value, dict) and value.get("type", "none") == "none")


# key -> (harmless value?, why it is refused)
REFUSED = {
    P + "tools": (_none_type, "tool calling is not supported by this server"),
    P + "structured": (
        _none_type,
        "structured output (JSON schema, grammar) is not supported by this server",
    ),
    P + "toolCallStopStrings": (lambda v: not v, "tool calling is not supported by this server"),
    P + "contextOverflowPolicy": (
        lambda v: v == "stopAtLimit",
        "only the 'stopAtLimit' context overflow policy is supported: a prompt longer than the "
        "context is refused, and a reply stops at the context's end",
    ),
    P + "reasoning.parsing": (
        lambda v: not (isinstance(v, dict) and v.get("enabled")),
        "reasoning parsing is not supported by this server",
    ),
}


@dataclass
class PredictionConfig:
    overrides: dict[str, Any] = field(default_factory=dict)  # setting name -> value
    draft_model: str | None = None  # None: the model's default draft; "": none
    stop: tuple[str, ...] = ()
    raw_completion: bool = False  # complete(): the messages' text is the prompt, no template


def collapse(stack: Any, name: str) -> dict[str, tuple[Any, str]]:
    """key -> (value, layer name) of the last layer that sets it."""
    if not isinstance(stack, dict) or not isinstance(stack.get("layers"), list):
        raise SdkError(f"{name} must be an object with a list of layers")
    out: dict[str, tuple[Any, str]] = {}
    for i, layer in enumerate(stack["layers"]):
        config = layer.get("config") if isinstance(layer, dict) else None
        fields = config.get("fields") if isinstance(config, dict) else None
        if not isinstance(fields, list):
            raise SdkError(f"{name}.layers[{i}] must have config.fields (a list)")
        layer_name = str(layer.get("layerName", ""))
        for kv in fields:
            if not isinstance(kv, dict) or not isinstance(kv.get("key"), str):
                raise SdkError(f"{name}.layers[{i}] has a field without a key")
            out[kv["key"]] = (kv.get("value"), layer_name)
    return out


def _setting(name: str, value: Any, key: str) -> Any:
    try:
        return model_settings.SPECS[name].coerce(value, field=key)
    except InvalidRequestError as exc:
        raise SdkError(str(exc)) from None


def _checkbox(value: Any) -> tuple[bool, Any]:
    """(on, value) from the SDK's `{checked, value}` (or a bare value; false is off)."""
    if isinstance(value, dict) and "checked" in value:
        on, inner = bool(value["checked"]), value.get("value")
    else:
        on, inner = True, value
    if inner is False or inner is None:
        return False, None
    return on, inner


def _stops(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise SdkError(f"{key} must be a list of strings")
    if len(value) > MAX_STOPS:
        raise SdkError(f"{key} has more than {MAX_STOPS} stop strings")
    return tuple(s for s in value if s)


def prediction_config(stack: Any, engine: str) -> PredictionConfig:
    """The prediction config stack as our settings for a model on `engine`; SdkError (400)
    naming the key at fault."""
    out = PredictionConfig()
    for key, (value, layer) in collapse(stack, "predictionConfigStack").items():
        if key in PLAIN:
            out.overrides[PLAIN[key]] = _setting(PLAIN[key], value, key)
        elif key in CHECKBOX:
            name, off = CHECKBOX[key]
            on, inner = _checkbox(value)
            if key == P + "maxPredictedTokens" and inner == -1:
                on = False  # -1: no limit of its own
            if on:
                out.overrides[name] = _setting(name, inner, key)
            elif off is not None:
                out.overrides[name] = off
        elif key == P + "stopStrings":
            out.stop = _stops(value, key)
        elif key == SD + "draftModel":
            if not isinstance(value, str):
                raise SdkError(f"{key} must be a model key (text), or '' for none")
            name = value.strip()
            out.draft_model = "" if name.lower() == "none" else _setting("draft_model", name, key)
        elif key == SD + "minContinueDraftingProbability":
            out.overrides["draft_p_min"] = _setting("draft_p_min", value, key)
            out.overrides["draft_auto"] = False
        elif key == SD + "numDraftTokensExact":
            if engine == MLX:
                out.overrides["mlx_draft_tokens"] = _setting("mlx_draft_tokens", value, key)
            else:
                out.overrides["draft_max"] = _setting("draft_max", value, key)
                out.overrides.update(draft_p_min=0.0, draft_auto=False)
        elif key == P + "promptTemplate":
            if layer != COMPLETION_LAYER:
                raise SdkError(
                    f"{key}: custom prompt templates are not supported; the model's own chat "
                    "template is used (complete() sends the prompt as it is)"
                )
            out.raw_completion = True
        elif key in REFUSED:
            harmless, why = REFUSED[key]
            if not harmless(value):
                raise SdkError(f"{key}: {why}")
        elif key not in NO_EFFECT:
            raise SdkError(f"the setting {key} is not supported by this server")
    return out


def load_context_length(stack: Any) -> int | None:
    """The context length a load config stack asks for (`llm.load.contextLength`). The other
    load settings (GPU split and offload, mmap, KV cache...; @lmstudio/sdk sends its GPU
    defaults on every load) are taken from My Models, as for every model the server loads."""
    value, _layer = collapse(stack, "loadConfigStack").get("llm.load.contextLength", (None, ""))
    return None if value is None else _setting("context_length", value, "llm.load.contextLength")


def prediction_fields(values: dict[str, Any], engine: str, stop: tuple[str, ...]) -> dict[str, Any]:
    """The settings a prediction ran with, as the SDK's keys (its `predictionConfig`)."""
    out: dict[str, Any] = {
        P + "temperature": values["temperature"],
        P + "maxPredictedTokens": {"checked": True, "value": values["max_tokens"]},
        P + "topKSampling": values["top_k"],
        P + "topPSampling": {"checked": True, "value": values["top_p"]},
        P + "minPSampling": {"checked": True, "value": values["min_p"]},
        P + "repeatPenalty": {"checked": True, "value": values["repeat_penalty"]},
        P + "stopStrings": list(stop),
        SD + "draftModel": values["draft_model"] or "",
    }
    if engine == MLX:
        out[SD + "numDraftTokensExact"] = values["mlx_draft_tokens"]
    else:
        out[SD + "maxTokensToDraft"] = values["draft_max"]
        out[SD + "minDraftLengthToConsider"] = values["draft_min"]
        out[SD + "minContinueDraftingProbability"] = values["draft_p_min"]
    return out
