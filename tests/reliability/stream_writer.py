"""Child process for the kill -9 test: streams real replies (llama.cpp, speculative) into a
real conversations file the way the chat page does, and says on stdout what it committed.

    python -m tests.reliability.stream_writer DB MAIN DRAFT SEED

Lines: `WRITE sha` before a new message is committed, `ADDED id sha` after; `UPDATE id sha`
before a reply is replaced (Continue), `UPDATED id` after; `REGEN id sha` before a regenerated
reply is committed as a new version, `REGENERATED id` after; `STREAM` when a reply starts."""

from __future__ import annotations

import hashlib
import json
import random
import sys
from pathlib import Path

from app.chat.store import ChatStore, StoredMessage
from app.chat.stored import merge_runs
from app.core.events import GenerationResult, TokenEvent
from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import ModelDraft
from app.engines.llamacpp import LlamaCppModel, LoadOptions

WORDS = [
    "the",
    "cat",
    "sat",
    "on",
    "a",
    "mat",
    "while",
    "dogs",
    "ran",
    "to",
    "the",
    "house",
    "and",
    "birds",
    "flew",
    "over",
]


def digest(message: StoredMessage) -> str:
    blob = json.dumps([message.role, message.content, message.origins, message.stats], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def reply(main: LlamaCppModel, draft: LlamaCppModel, prompt: str, seed: int) -> StoredMessage:
    request = GenerationRequest(
        prompt=prompt,
        max_tokens=160,
        sampling=SamplingSettings(temperature=0.8, seed=seed),
        draft=DraftSettings(max_draft_size=6, p_min=0.0),
    )
    text: list[str] = []
    runs: list[list[object]] = []
    stats = None
    for item in main.generate(request, draft=ModelDraft(draft)):
        if isinstance(item, TokenEvent):
            if not text:
                say("STREAM")
            text.append(item.text)
            merge_runs([(len(item.text), item.origin.value)], runs)  # type: ignore[list-item]
        elif isinstance(item, GenerationResult):
            stats = item.stats.to_dict()
    return StoredMessage("assistant", "".join(text), runs, stats)


def add(store: ChatStore, cid: int, message: StoredMessage) -> None:
    say(f"WRITE {digest(message)}")
    mid = store.add_message(cid, message)
    say(f"ADDED {mid} {digest(message)}")


def main() -> None:
    db, main_path, draft_path, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    rng = random.Random(seed)
    store = ChatStore(Path(db))
    options = LoadOptions(n_ctx=512, n_threads=1)  # spinning threads crawl on a busy machine
    main_model = LlamaCppModel(main_path, options)
    draft_model = LlamaCppModel(draft_path, options)
    say("READY")
    replies: list[StoredMessage] = []
    for turn in range(10_000):
        cid = store.create_conversation(f"chat {seed}-{turn}")
        prompt = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
        add(store, cid, StoredMessage("user", prompt))
        answer = reply(main_model, draft_model, prompt, rng.randint(0, 2**31))
        add(store, cid, answer)
        replies.append(answer)
        if turn % 3 == 1:  # Regenerate: a new version of an earlier reply, the old one kept
            old = rng.choice(replies)
            new = reply(main_model, draft_model, "the " + old.content[:20], rng.randint(0, 2**31))
            say(f"REGEN {old.id} {digest(new)}")
            store.add_version(old, new)
            say(f"REGENERATED {old.id}")
            old.content, old.origins, old.stats = new.content, new.origins, new.stats
        if turn % 3 == 2:  # Continue: an earlier reply grows in place
            old = rng.choice(replies)
            more = reply(main_model, draft_model, old.content[-40:] or "the", rng.randint(0, 2**31))
            old.content += more.content
            old.origins = merge_runs([(int(n), str(o)) for n, o in more.origins], old.origins)
            old.stats = more.stats
            say(f"UPDATE {old.id} {digest(old)}")
            store.update_message(old)
            say(f"UPDATED {old.id}")


if __name__ == "__main__":
    main()
