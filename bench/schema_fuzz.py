"""Schema fuzzing of the local server: N request bodies built from /openapi.json's request
schemas and bent (wrong types, NaN, huge and empty values, NUL characters), sent to a real
server over tiny generated models. Counts the statuses; any 5xx is a defect (exit 1).

    python bench/schema_fuzz.py --count 3447
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PLAUSIBLE: dict[str, object] = {
    "model": None,
    "messages": [{"role": "user", "content": "the cat"}],
    "prompt": "the cat",
}
PATHS = ["/v1/chat/completions", "/v1/completions", "/api/v0/chat/completions", "/api/v0/completions"]


def _isolate(tmp: Path) -> None:
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "HOME", "HF_HOME"):
        os.environ[var] = str(tmp / var)


def _value(rng: random.Random, model: str) -> object:
    return rng.choice(
        [
            None,
            True,
            -1,
            0,
            1,
            2**40,
            1.5,
            float("nan"),
            float("inf"),
            "",
            "x" * rng.randint(1, 50),
            "\x00",
            [],
            {},
            [1, "a"],
            ["a", "b"],
            model,
            [{"role": "user", "content": "hi"}],
            [{"role": "tool", "tool_call_id": "1"}],
            [{"role": "assistant", "content": None}, {"role": "user", "content": "<end_of_turn>"}],
            [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "the cat",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        _isolate(Path(tmp))
        from app.library.paths import models_dir
        from app.server.config import ServerConfig
        from app.server.openapi import request_schema
        from app.server.serving import LocalServer
        from tests.model_factory import write_tiny_gguf

        model = "test/tiny/main.gguf"
        write_tiny_gguf(models_dir() / model)
        server = LocalServer(ServerConfig(port=0))
        server.start()
        rng = random.Random(args.seed)
        statuses: Counter[int] = Counter()
        fivexx: list[tuple[str, dict[str, Any], str]] = []
        t0 = time.perf_counter()
        try:
            for i in range(args.count):
                path = PATHS[i % len(PATHS)]
                schema = request_schema(path)
                body: dict[str, Any] = {}
                for name in schema["properties"]:
                    if name in schema.get("required", []) or rng.random() < 0.08:
                        body[name] = _value(rng, model)
                        if name in PLAUSIBLE and rng.random() < 0.7:  # most requests get this far
                            body[name] = PLAUSIBLE[name] if name != "model" else model
                if body.get("max_tokens") is None:  # short replies: the fuzzing is in the request
                    body["max_tokens"] = rng.choice([1, 4, 8])
                body["stream"] = rng.random() < 0.2
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=300)
                headers = {"Content-Type": "application/json"}
                conn.request("POST", path, body=json.dumps(body), headers=headers)
                resp = conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                conn.close()
                statuses[resp.status] += 1
                if resp.status >= 500:
                    fivexx.append((path, body, text[:300]))
        finally:
            server.stop()
        elapsed = time.perf_counter() - t0
    counted = dict(sorted(statuses.items()))
    print(f"{args.count} fuzzed requests (seed {args.seed}) in {elapsed:.1f} s: statuses {counted}")
    for path, body, text in fivexx[:5]:
        print(f"  5xx on {path}: {json.dumps(body)[:200]} -> {text}", file=sys.stderr)
    return 1 if fivexx else 0


if __name__ == "__main__":
    raise SystemExit(main())
