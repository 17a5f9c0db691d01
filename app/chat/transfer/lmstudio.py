"""LM Studio's conversations (`~/.lmstudio/conversations/**/*.conversation.json`), read into the
portable form.

The shape, as LM Studio writes it (its files are internal to LM Studio, so every field is read
with care and unknown ones are ignored):

- the conversation: `name`, `createdAt` (ms), `systemPrompt` (or `perChatPredictionConfig.fields`
  with the key `llm.prediction.systemPrompt`), `lastUsedModel.indexedModelIdentifier` /
  `identifier`, and `messages`;
- a message: `versions` and `currentlySelected` (the version shown); a version has a `role`;
  a user's (`type: "singleStep"`) holds `content`, a list of parts (`{"type": "text", "text"}`);
  an assistant's (`type: "multiStep"`) holds `steps`, of which the `contentBlock`s carry the
  reply as text chunks (`{"type": "text", "text", "fromDraftModel"}`) and `genInfo` with
  `identifier` and `stats` (LM Studio's LLMPredictionStats: `tokensPerSecond`,
  `timeToFirstTokenSec`, `totalTimeSec`, `promptTokensCount`, `predictedTokensCount`,
  `stopReason`, `usedDraftModelKey`, `totalDraftTokensCount`, `acceptedDraftTokensCount`,
  `rejectedDraftTokensCount`, `ignoredDraftTokensCount`).

Chunks LM Studio marked `fromDraftModel` become accepted draft tokens (green); its figures are
kept as LM Studio measured them and say so (`measured_by`). Reasoning blocks (`style.type:
"thinking"`) and blocks LM Studio leaves out of the context are left out here too; attached
files are not imported.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.chat.reply_stats import ReplyStats
from app.chat.transfer.portable import PortableConversation, PortableMessage, PortableVersion, plain_runs
from app.chat.transfer.specula_json import FormatError
from app.core.events import GenerationStats, StopReason

SOURCE = "LM Studio"
SUFFIX = ".conversation.json"
SYSTEM_PROMPT_KEY = "llm.prediction.systemPrompt"
_STOP = {
    "eosFound": StopReason.EOS,
    "stopStringFound": StopReason.STOP_STRING,
    "maxPredictedTokensReached": StopReason.MAX_TOKENS,
    "contextLengthReached": StopReason.CONTEXT_FULL,
    "userStopped": StopReason.CANCELLED,
    "modelUnloaded": StopReason.CANCELLED,
    "failed": StopReason.ERROR,
    "toolCalls": StopReason.EOS,
}


def conversation_folders() -> list[Path]:
    """Where LM Studio keeps conversations, as for its models folder (`~/.lmstudio`, and the
    older `~/.cache/lm-studio`)."""
    home = Path(os.path.expanduser("~"))
    return [home / ".lmstudio" / "conversations", home / ".cache" / "lm-studio" / "conversations"]


def conversation_files(folder: Path) -> list[Path]:
    """Every conversation file under `folder` (LM Studio keeps folders of them), in name order."""
    try:
        return sorted(p for p in folder.rglob(f"*{SUFFIX}") if p.is_file())
    except OSError:
        return []


def found_conversations() -> list[Path]:
    """LM Studio's conversation files on this computer."""
    return [p for folder in conversation_folders() for p in conversation_files(folder)]


def is_lmstudio(document: Any) -> bool:
    messages = document.get("messages") if isinstance(document, dict) else None
    return isinstance(messages, list) and (
        not messages or any(isinstance(m, dict) and "versions" in m for m in messages)
    )


def read(document: dict[str, Any], fallback_title: str) -> PortableConversation:
    """One LM Studio conversation; FormatError when it is not one."""
    messages_raw = document.get("messages")
    if not isinstance(messages_raw, list):
        raise FormatError("it has no list of messages")
    system = _system_prompt(document)
    messages: list[PortableMessage] = []
    draft_key = None
    for index, raw in enumerate(messages_raw):
        message = _message(raw, index)
        if message is None:
            continue
        if message.role == "system":  # a system message in the chat: part of the system prompt
            system = "\n\n".join(t for t in (system, message.current.content) if t)
            continue
        messages.append(message)
        stats = message.current.stats or {}
        draft_key = stats.get("draft_model") or draft_key
    created = _seconds(document.get("createdAt"))
    last_model = document.get("lastUsedModel")
    model_key = None
    if isinstance(last_model, dict):
        model_key = _str(last_model.get("indexedModelIdentifier")) or _str(last_model.get("identifier"))
    name = _str(document.get("name")).strip()
    return PortableConversation(
        name or fallback_title,
        messages,
        created,
        created,
        model_key or None,
        draft_key if isinstance(draft_key, str) else None,
        {"system_prompt": system} if system else None,
    )


def _system_prompt(document: dict[str, Any]) -> str:
    config = document.get("perChatPredictionConfig")
    fields = config.get("fields") if isinstance(config, dict) else None
    for item in fields if isinstance(fields, list) else []:
        if isinstance(item, dict) and item.get("key") == SYSTEM_PROMPT_KEY and _str(item.get("value")):
            return _str(item.get("value"))
    return _str(document.get("systemPrompt"))


def _message(raw: Any, index: int) -> PortableMessage | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("versions"), list):
        raise FormatError(f"message {index + 1} has no versions")
    versions: list[PortableVersion] = []
    roles: list[str] = []
    selected = raw.get("currentlySelected", 0)
    shown = 0
    for i, v in enumerate(raw["versions"]):
        if not isinstance(v, dict):
            continue
        role = v.get("role")
        if role not in ("user", "assistant", "system"):
            continue
        version = _assistant_version(v) if role == "assistant" else _text_version(v)
        if version is None:
            continue
        if i == selected:
            shown = len(versions)
        versions.append(version)
        roles.append(str(role))
    if not versions:
        return None
    return PortableMessage(roles[shown], versions, shown)


def _text_version(v: dict[str, Any]) -> PortableVersion | None:
    parts = v.get("content")
    if isinstance(parts, str):
        text = parts
    elif isinstance(parts, list):
        text = "\n\n".join(
            _str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("type") == "text"
        )
    else:
        return None
    return PortableVersion(text, [], None) if text else None


def _assistant_version(v: dict[str, Any]) -> PortableVersion | None:
    """The reply's text with its draft chunks, and LM Studio's stats summed over its blocks."""
    steps = v.get("steps")
    if not isinstance(steps, list):  # an older single-step reply
        steps = [{"type": "contentBlock", "content": v.get("content"), "genInfo": v.get("genInfo")}]
    pieces: list[str] = []
    runs: list[list[Any]] = []
    stats: GenerationStats | None = None
    sender = v.get("senderInfo")
    model = _str(sender.get("senderName")) if isinstance(sender, dict) else ""
    for step in steps:
        if not isinstance(step, dict) or step.get("type") != "contentBlock":
            continue
        style = step.get("style")
        if (isinstance(style, dict) and style.get("type") == "thinking") or step.get(
            "shouldIncludeInContext"
        ) is False:
            continue
        for chunk in step.get("content") or []:
            if isinstance(chunk, dict) and chunk.get("type") == "text" and _str(chunk.get("text")):
                text = _str(chunk.get("text"))
                pieces.append(text)
                origin = "draft" if chunk.get("fromDraftModel") is True else "main"
                if runs and runs[-1][1] == origin:
                    runs[-1][0] += len(text)
                else:
                    runs.append([len(text), origin])
        info = step.get("genInfo")
        if isinstance(info, dict):
            model = _str(info.get("identifier")) or _str(info.get("indexedModelIdentifier")) or model
            part = _stats(info.get("stats"))
            if part is not None:
                stats = part if stats is None else stats.merge(part)
    text = "".join(pieces)
    if not text:
        return None
    out = None
    if stats is not None:
        draft = stats.draft_model or ""
        named = ReplyStats(stats, model, draft, [draft] if draft else [], SOURCE)
        out = named.to_dict()
    return PortableVersion(text, runs or plain_runs(text), out)


def _stats(raw: Any) -> GenerationStats | None:
    if not isinstance(raw, dict):
        return None
    first = _number(raw.get("timeToFirstTokenSec"))
    total = _number(raw.get("totalTimeSec"))
    return GenerationStats(
        tokens_per_second=_number(raw.get("tokensPerSecond")),
        time_to_first_token=first,
        generation_time=max(0.0, total - first),
        stop_reason=_STOP.get(_str(raw.get("stopReason")), StopReason.EOS),
        prompt_tokens_count=int(_number(raw.get("promptTokensCount"))),
        predicted_tokens_count=int(_number(raw.get("predictedTokensCount"))),
        draft_model=_str(raw.get("usedDraftModelKey")) or None,
        total_draft_tokens_count=int(_number(raw.get("totalDraftTokensCount"))),
        accepted_draft_tokens_count=int(_number(raw.get("acceptedDraftTokensCount"))),
        rejected_draft_tokens_count=int(_number(raw.get("rejectedDraftTokensCount"))),
        ignored_draft_tokens_count=int(_number(raw.get("ignoredDraftTokensCount"))),
    )


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _number(value: Any) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    return float(value) if ok and abs(value) < 1e15 else 0.0


def _seconds(ms: Any) -> float | None:
    value = _number(ms)
    return value / 1000 if value > 0 else None
