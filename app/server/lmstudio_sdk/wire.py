"""What the SDK reads, in its own shapes: model infos, prediction stats, fragments, KV configs
and errors. Both SDKs validate what they receive (zod in @lmstudio/sdk, msgspec in lmstudio):
optional fields are left out rather than sent as null, names are the SDK's camelCase ones.
"""

from __future__ import annotations

import re
from typing import Any

from app.core.events import GenerationStats, StopReason
from app.library.entry import MLX, ModelEntry

STOP_REASONS = {
    StopReason.EOS: "eosFound",
    StopReason.MAX_TOKENS: "maxPredictedTokensReached",
    StopReason.STOP_STRING: "stopStringFound",
    StopReason.CANCELLED: "userStopped",
    StopReason.ERROR: "failed",
}


class SdkError(Exception):
    """A failure as the SDK reports it (`rpcError` / `channelError` with a serialized error):
    the SDK raises its own exception type with `title` as the message. `status` is the HTTP
    status the same failure gets on the HTTP API, for the request log."""

    def __init__(self, title: str, status: int = 400, display_data: dict[str, Any] | None = None) -> None:
        super().__init__(title)
        self.title, self.status, self.display_data = title, status, display_data

    def serialized(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": self.title, "rootTitle": self.title}
        if self.display_data is not None:
            out["displayData"] = self.display_data
        return out


def no_model(query: dict[str, Any], loaded: list[str], what: str) -> SdkError:
    """The SDK's own "no model matches" error (the Python SDK raises LMStudioModelNotFoundError)."""
    return SdkError(
        f"no model matches {what} (the models are listed by client.list_downloaded_models())",
        404,
        {
            "code": "generic.noModelMatchingQuery",
            "query": query,
            "loadedModelsSample": loaded[:10],
            "totalLoadedModels": len(loaded),
        },
    )


def _quantization(name: str | None) -> dict[str, Any] | None:
    bits = re.search(r"(\d+)", name or "")
    return {"name": name, "bits": int(bits.group(1))} if name and bits else None


def model_info(entry: ModelEntry) -> dict[str, Any]:
    """An LLM as a downloaded model (`LlmInfo`). Its path is the library key, as LM Studio's
    paths are relative to its models folder: no machine path leaves the server."""
    out: dict[str, Any] = {
        "type": "llm",
        "modelKey": entry.key,
        "format": "safetensors" if entry.engine == MLX else "gguf",
        "displayName": entry.name,
        "path": entry.key,
        "sizeBytes": int(entry.size_bytes),
        "paramsString": entry.params_label,
        "architecture": entry.architecture,
        "vision": False,
        "trainedForToolUse": False,
        "maxContextLength": int(entry.context_length or 0),
    }
    quant = _quantization(entry.quantization)
    if quant is not None:
        out["quantization"] = quant
    return out


def instance_info(entry: ModelEntry, context_length: int) -> dict[str, Any]:
    """A loaded LLM (`LlmInstanceInfo`). One instance per model: its identifier and instance
    reference are the library key."""
    return {
        **model_info(entry),
        "identifier": entry.key,
        "instanceReference": entry.key,
        "contextLength": int(context_length),
    }


def kv_config(fields: dict[str, Any]) -> dict[str, Any]:
    return {"fields": [{"key": k, "value": v} for k, v in fields.items()]}


def prediction_stats(s: GenerationStats, draft_key: str | None) -> dict[str, Any]:
    """`LlmPredictionStats`: the draft counts in the SDK's names (total = accepted +
    rejected + ignored), with the draft that ran as `usedDraftModelKey`."""
    out: dict[str, Any] = {
        "stopReason": STOP_REASONS[s.stop_reason],
        "tokensPerSecond": float(s.tokens_per_second),
        "timeToFirstTokenSec": float(s.time_to_first_token),
        "promptTokensCount": s.prompt_tokens_count,
        "predictedTokensCount": s.predicted_tokens_count,
        "totalTokensCount": s.prompt_tokens_count + s.predicted_tokens_count,
    }
    if s.draft_model is not None:
        out.update(
            usedDraftModelKey=draft_key or s.draft_model,
            totalDraftTokensCount=s.total_draft_tokens_count,
            acceptedDraftTokensCount=s.accepted_draft_tokens_count,
            rejectedDraftTokensCount=s.rejected_draft_tokens_count,
            ignoredDraftTokensCount=s.ignored_draft_tokens_count,
        )
    return out


def fragment(content: str, tokens: int, drafted: bool) -> dict[str, Any]:
    return {
        "type": "fragment",
        "fragment": {
            "content": content,
            "tokensCount": tokens,
            "containsDrafted": drafted,
            "reasoningType": "none",
            "isStructural": False,
        },
    }
