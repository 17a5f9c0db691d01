"""Conversations out and in: a 5,000-message conversation (replies with token origins, rounds,
rejected drafts, stats, a second version on every tenth) exported as JSON, Markdown and HTML,
imported back from the JSON into a fresh file, and an LM Studio conversation and a ChatGPT export
of the same length imported.

Target (issue 28): a 5,000-message export and import within a few seconds.

    python bench/chats_bench.py [--messages 5000] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.chat.store import ChatStore
from app.chat.transfer.exporting import export
from app.chat.transfer.importing import import_paths
from app.chat.transfer.portable import PortableConversation, PortableMessage, PortableVersion
from app.chat.transfer.store_io import write_conversations
from tests.chat.transfer.conversations import DRAFT_STATS, gpt_node, lms_reply_version, lms_user, write_json

REPLY = (
    "Here is a short answer with **some Markdown**, a list:\n- one\n- two\n\n"
    "```python\ndef f(x):\n    return x * 2\n```\nand a closing sentence that the draft mostly wrote."
)


def reply_version(i: int) -> PortableVersion:
    n = len(REPLY)
    origins = [[20, "main"], [40, "draft"], [30, "main"], [n - 90, "draft"]]
    rounds = [[20, 0], [40, 1], [30, 2], [n - 90, 3]]
    stats = {
        "tokens_per_second": 31.5 + i % 7,
        "time_to_first_token": 0.12,
        "generation_time": 1.4,
        "stop_reason": "eos",
        "prompt_tokens_count": 40 + i,
        "predicted_tokens_count": 60,
        "draft_model": "draft.gguf",
        "total_draft_tokens_count": 48,
        "accepted_draft_tokens_count": 36,
        "rejected_draft_tokens_count": 12,
        "verify_steps": 20,
        "rounds": [[4, 3]] * 12,
        "model_name": "Main",
        "draft_name": "Draft",
        "drafts_used": ["Draft"],
        "token_rounds": rounds,
        "rejected_drafts": [[60, 1, " nope"]],
    }
    return PortableVersion(REPLY, origins, stats, 1_700_000_000.0 + i)


def big_conversation(messages: int) -> PortableConversation:
    out: list[PortableMessage] = []
    for i in range(messages // 2):
        out.append(PortableMessage("user", [PortableVersion(f"Question {i}: what about {i * 7}?", [], None)]))
        versions = [reply_version(i)] + ([reply_version(i + 1)] if i % 10 == 0 else [])
        out.append(PortableMessage("assistant", versions, len(versions) - 1))
    return PortableConversation("A long conversation", out, 1_700_000_000.0, 1_700_000_000.0 + messages)


def timed(step: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    step()
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = ChatStore(root / "here.sqlite3")
        conv = big_conversation(args.messages)
        [cid] = write_conversations(store, [(conv, "bench:1")])
        results: dict[str, float | int] = {"messages": args.messages}
        for fmt in ("json", "md", "html"):
            out = root / f"chat.{fmt}"
            results[f"export_{fmt}_s"] = timed(functools.partial(export, store, [cid], fmt, out))
            results[f"export_{fmt}_bytes"] = out.stat().st_size
        other = ChatStore(root / "there.sqlite3")
        results["import_json_s"] = timed(lambda: import_paths(other, [root / "chat.json"]))
        results["reimport_json_s"] = timed(lambda: import_paths(other, [root / "chat.json"]))  # recognised
        lms = root / "lmstudio"
        messages = []
        for i in range(args.messages // 2):
            messages.append(lms_user(f"Question {i}"))
            chunks = [("Eleven", False), (" is a prime", True), (" number.", False)]
            messages.append({"versions": [lms_reply_version(chunks, DRAFT_STATS)], "currentlySelected": 0})
        write_json(
            lms / "1.conversation.json", {"name": "LM Studio, long", "createdAt": 1, "messages": messages}
        )
        results["import_lmstudio_s"] = timed(lambda: import_paths(other, [lms]))
        nodes = [gpt_node("root", None, ["m0"], None)]
        for i in range(args.messages):
            role, text = ("user", f"Question {i}") if i % 2 == 0 else ("assistant", REPLY)
            children = [f"m{i + 1}"] if i + 1 < args.messages else []
            nodes.append(gpt_node(f"m{i}", "root" if i == 0 else f"m{i - 1}", children, role, text))
        mapping = {n["id"]: n for n in nodes}
        gpt = write_json(
            root / "chatgpt" / "conversations.json",
            [{"title": "ChatGPT, long", "mapping": mapping, "current_node": nodes[-1]["id"]}],
        )
        results["import_chatgpt_s"] = timed(lambda: import_paths(other, [gpt]))
        store.close()
        other.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for k, v in results.items():
            print(f"{k:>22}: {v:.3f}" if isinstance(v, float) else f"{k:>22}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
