"""kill -9 while replies stream into the conversations file (new replies, Continue, regenerate):
after every kill the file opens clean, every message the writer said it committed is there,
whole, and every reply a regenerate replaced is still there as an earlier version."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.chat.store import ChatStore, StoredMessage
from tests.reliability.helpers import REPO

KILLS = 6
ROUND_TIMEOUT = 60.0


def digest(message: StoredMessage) -> str:
    blob = json.dumps([message.role, message.content, message.origins, message.stats], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def run_and_kill(
    db: Path, main: Path, draft: Path, seed: int, streams_before_kill: int, delay: float
) -> list[str]:
    """Start the writer, let it stream some replies, kill it mid-stream; its stdout lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.stream_writer", str(db), str(main), str(draft), str(seed)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + ROUND_TIMEOUT
    try:
        streams = 0
        while streams < streams_before_kill and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
            streams += line.startswith("STREAM")
        assert streams == streams_before_kill, f"the writer stopped early: {lines[-5:]}"
        time.sleep(delay)  # somewhere inside the reply, or inside a commit
    finally:
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return lines + [x.strip() for x in rest.splitlines() if x.strip()]


def test_nothing_committed_is_lost_across_kills(tmp_path, tiny_main, tiny_noisy):
    db = tmp_path / "conversations.sqlite3"
    rng = random.Random(16)
    confirmed: dict[int, str] = {}  # message id -> digest the writer committed last
    announced: set[str] = set()  # every digest the writer was about to write
    pending_update: dict[int, str] = {}  # an update in flight when the writer died
    superseded: dict[int, list[str]] = {}  # message id -> versions a regenerate replaced
    regenerating: set[int] = set()  # which of the pending updates are regenerates
    regenerated = 0
    total = 0
    for round_ in range(KILLS):
        lines = run_and_kill(db, tiny_main, tiny_noisy, round_, rng.randint(1, 5), rng.uniform(0, 0.3))
        for line in lines:
            kind, *rest = line.split()
            if kind == "WRITE":
                announced.add(rest[0])
            elif kind == "ADDED":
                confirmed[int(rest[0])] = rest[1]
            elif kind == "UPDATE":
                announced.add(rest[1])
                pending_update[int(rest[0])] = rest[1]
            elif kind == "UPDATED":
                confirmed[int(rest[0])] = pending_update.pop(int(rest[0]))
            elif kind == "REGEN":
                announced.add(rest[1])
                pending_update[int(rest[0])] = rest[1]
                regenerating.add(int(rest[0]))
            elif kind == "REGENERATED":
                mid = int(rest[0])
                regenerating.discard(mid)
                superseded.setdefault(mid, []).append(confirmed[mid])
                confirmed[mid] = pending_update.pop(mid)
                regenerated += 1
        store = ChatStore(db)
        assert store.notice is None, store.notice  # the file is sound after every kill
        (check,) = store._db.execute("PRAGMA integrity_check").fetchone()
        assert check == "ok"
        found = {m.id: digest(m) for c in store.conversations() for m in store.messages(c.id)}
        kept = {mid: [digest(v) for v in store.versions(mid)] for mid in superseded}
        store.close()
        for mid, olds in superseded.items():  # a regenerate never loses the reply it replaced
            assert all(sha in kept[mid] for sha in olds), f"round {round_}: a version of {mid} is gone"
        for mid, sha in confirmed.items():  # nothing committed is lost or torn
            assert mid in found, f"round {round_}: committed message {mid} is gone"
            assert found[mid] in {sha, pending_update.get(mid)}, f"round {round_}: message {mid} changed"
        assert set(found.values()) <= announced, "a message holds content nobody wrote"
        for mid in list(pending_update):  # the update that was in flight is settled either way
            if mid in regenerating and found[mid] != confirmed[mid]:  # landed: the old is a version
                superseded.setdefault(mid, []).append(confirmed[mid])
            regenerating.discard(mid)
            confirmed[mid] = found[mid]
            del pending_update[mid]
        assert len(found) >= total
        total = len(found)
    assert total >= KILLS * 2  # each round committed at least a question and a reply
    assert regenerated > 0  # the loop did regenerate (and was killed around it)
