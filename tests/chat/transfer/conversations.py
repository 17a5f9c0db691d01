"""Conversations for the transfer tests, made the way the chat makes them: through the session
and a reply's flight (pieces with rounds and rejected drafts, the engine's stats, Continue
adding to them), and files shaped as LM Studio and ChatGPT write theirs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from app.chat.reply import CONTINUE, REGENERATE, SEND
from app.chat.reply_flight import Flight
from app.chat.session import ChatSession, FixedPair
from app.chat.store import ChatStore
from app.chat.stream_batch import StreamBatch
from app.core.events import GenerationResult, GenerationStats, RoundEvent

SETTINGS = {"system_prompt": "Answer in one line.", "temperature": 0.3}


NAMES = {"gemma-f16.gguf": "Gemma 3 270M F16", "gemma-q4.gguf": "Gemma 3 270M Q4_K_M"}


def reply(session: ChatSession, kind: str, pieces: list[tuple[str, str, int]], text: str = "") -> None:
    """One reply through the session, as the chat page streams and ends it."""
    r = session.begin(kind, text, dict(SETTINGS))
    flight = Flight.start(r, "gemma-f16.gguf", "gemma-q4.gguf", lambda key: NAMES.get(key, key))
    flight.shift(StreamBatch(tokens=1))  # the first token's time
    rounds = sorted({rnd for _, _, rnd in pieces})
    events = [RoundEvent(n + flight.first_round, 3, 2, 3) for n in rounds if n]
    batch = flight.shift(StreamBatch(pieces=pieces, rounds=events, tokens=len(pieces), elapsed=0.5))
    flight.absorb(batch)
    stats = GenerationStats(
        tokens_per_second=21.5,
        time_to_first_token=0.2,
        generation_time=0.5,
        predicted_tokens_count=len(pieces),
        prompt_tokens_count=12,
        draft_model="gemma-q4.gguf",
        verify_steps=len(events),
        baseline_tokens_per_second=15.0,
    )
    for e in events:
        stats.add_round(e.drafted, e.accepted)
    text_out = "".join(t for t, k, _ in pieces if k != "rejected")
    flight.message.stats = flight.final_stats(GenerationResult(text_out, stats))
    session.commit(flight.stored())


def rich_conversation(store: ChatStore) -> int:
    """A question, a reply regenerated (two versions), then continued; a code block; a second
    exchange. Returns its id."""
    session = ChatSession(store)
    session.open_latest_or_new()
    session.models = FixedPair("gemma-f16.gguf", "gemma-q4.gguf", NAMES)
    reply(
        session,
        SEND,
        [("Paris", "main", 0), (" is the", "draft", 1), (" cap", "rejected", 1), (" capital.", "main", 1)],
        "What is the capital of France?",
    )
    reply(
        session,
        REGENERATE,
        [("The capital", "main", 0), (" of France", "draft", 1), (" is Paris.", "draft", 2)],
    )
    reply(
        session,
        CONTINUE,
        [("\n\n```python\n", "main", 0), ('print("Paris")', "draft", 1), ("\n```", "main", 1)],
    )
    reply(
        session,
        SEND,
        [("**Berlin**", "main", 0), (", of course", "draft", 1), (".", "main", 1)],
        "And of Germany?",
    )
    assert session.conversation_id is not None
    return session.conversation_id


# --- LM Studio ---------------------------------------------------------------------------------
def lms_text(text: str, draft: bool = False) -> dict[str, Any]:
    return {"type": "text", "text": text, "fromDraftModel": draft, "tokensCount": 1, "isStructural": False}


def lms_user(text: str) -> dict[str, Any]:
    return {
        "versions": [{"type": "singleStep", "role": "user", "content": [lms_text(text)]}],
        "currentlySelected": 0,
    }


QWEN = "lmstudio-community/Qwen2.5-7B-Instruct-GGUF/Qwen2.5-7B-Instruct-Q4_K_M.gguf"


def lms_reply_version(chunks: list[tuple[str, bool]], stats: dict[str, Any] | None) -> dict[str, Any]:
    gen_info: dict[str, Any] = {
        "indexedModelIdentifier": QWEN,
        "identifier": "qwen2.5-7b-instruct",
        "loadModelConfig": {"fields": []},
        "predictionConfig": {"fields": []},
    }
    if stats is not None:
        gen_info["stats"] = stats
    return {
        "type": "multiStep",
        "role": "assistant",
        "senderInfo": {"senderName": "qwen2.5-7b-instruct"},
        "steps": [
            {
                "type": "contentBlock",
                "stepIdentifier": "1756219403097-0.5",
                "content": [lms_text(t, d) for t, d in chunks],
                "defaultShouldIncludeInContext": True,
                "shouldIncludeInContext": True,
                "genInfo": gen_info,
            },
            {
                "type": "debugInfoBlock",
                "stepIdentifier": "1756219403097-0.6",
                "debugInfo": "Conversation naming",
            },
        ],
    }


DRAFT_STATS = {
    "stopReason": "eosFound",
    "tokensPerSecond": 48.2,
    "numGpuLayers": -1,
    "timeToFirstTokenSec": 0.31,
    "totalTimeSec": 1.93,
    "promptTokensCount": 27,
    "predictedTokensCount": 78,
    "totalTokensCount": 105,
    "usedDraftModelKey": "lmstudio-community/Qwen2.5-0.5B-Instruct-GGUF/Qwen2.5-0.5B-Instruct-Q8_0.gguf",
    "totalDraftTokensCount": 60,
    "acceptedDraftTokensCount": 41,
    "rejectedDraftTokensCount": 15,
    "ignoredDraftTokensCount": 4,
}


def lmstudio_conversation(name: str, system: str = "You are terse.") -> dict[str, Any]:
    """A conversation as LM Studio saves it: a reply with three versions (the second shown), the
    shown one drafted (fromDraftModel chunks, genInfo with draft stats)."""
    plain_stats = {k: v for k, v in DRAFT_STATS.items() if "Draft" not in k}
    return {
        "name": name,
        "pinned": False,
        "createdAt": 1756219403097,
        "preset": "",
        "tokenCount": 105,
        "systemPrompt": "",
        "messages": [
            lms_user("Name a prime number."),
            {
                "versions": [
                    lms_reply_version([("Seven.", False)], plain_stats),
                    lms_reply_version(
                        [("Eleven", False), (" is a", True), (" prime", True), (".", False)], DRAFT_STATS
                    ),
                    lms_reply_version([("Two.", False)], None),
                ],
                "currentlySelected": 1,
            },
        ],
        "usePerChatPredictionConfig": True,
        "perChatPredictionConfig": {
            "fields": [
                {"key": "llm.prediction.temperature", "value": 0.7},
                {"key": "llm.prediction.systemPrompt", "value": system},
            ]
        },
        "clientInput": "",
        "clientInputFiles": [],
        "userFilesSizeBytes": 0,
        "lastUsedModel": {
            "identifier": "qwen2.5-7b-instruct",
            "indexedModelIdentifier": QWEN,
            "instanceLoadTimeConfig": {"fields": []},
            "instanceOperationTimeConfig": {"fields": []},
        },
        "notes": [],
        "plugins": [],
        "pluginConfigs": {},
        "disabledPluginTools": [],
        "looseFiles": [],
        "someFieldFromAFutureVersion": {"ignored": True},
    }


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


# --- ChatGPT -------------------------------------------------------------------------------------
def gpt_node(
    node_id: str, parent: str | None, children: list[str], role: str | None, text: str = "", **meta: Any
) -> dict[str, Any]:
    message = None
    if role is not None:
        message = {
            "id": node_id,
            "author": {"role": role, "name": None, "metadata": {}},
            "create_time": 1700000000.0 + len(node_id),
            "update_time": None,
            "content": {"content_type": "text", "parts": [text]},
            "status": "finished_successfully",
            "end_turn": True,
            "weight": 1.0,
            "metadata": {"model_slug": "gpt-4o", **meta},
            "recipient": "all",
        }
    return {"id": node_id, "message": message, "parent": parent, "children": children}


def chatgpt_conversation() -> dict[str, Any]:
    """root -> hidden system -> user "q1" -> replies a1 (first) and a2 (regenerated, on the
    branch) -> user q2, edited: q2 (old branch, with reply b_old) and q2-edited (current) ->
    reply b."""
    nodes = [
        gpt_node("root", None, ["sys"], None),
        gpt_node("sys", "root", ["q1"], "system", "", is_visually_hidden_from_conversation=True),
        gpt_node("q1", "sys", ["a1", "a2"], "user", "What is 2 + 2?"),
        gpt_node("a1", "q1", [], "assistant", "It is 4."),
        gpt_node("a2", "q1", ["q2", "q2e"], "assistant", "2 + 2 = 4."),
        gpt_node("q2", "a2", ["bo"], "user", "And 3 + 3?"),
        gpt_node("bo", "q2", [], "assistant", "Six."),
        gpt_node("q2e", "a2", ["b"], "user", "And 3 + 4?"),
        gpt_node("b", "q2e", [], "assistant", "Seven."),
    ]
    return {
        "title": "Sums",
        "create_time": 1700000000.0,
        "update_time": 1700000100.0,
        "mapping": {n["id"]: n for n in nodes},
        "moderation_results": [],
        "current_node": "b",
        "plugin_ids": None,
        "conversation_id": "6a1b-sums",
        "id": "6a1b-sums",
        "default_model_slug": "gpt-4o",
    }
