"""The local server on the real Gemma 3 270M (Q4_K_M), measured as ratios in one run.

1. Predicted Outputs: the same completion plain, with its own text as the prediction, and with
   a prediction edited in the middle (a word changed every ~10): tok/s ratios, acceptance,
   tokens per verify step; the text must be the same every time.
2. A client that hangs up while its long prompt is read: how long the next client waits for
   the model, against how long reading that prompt takes.
3. Reading a prompt batch by batch with the cancel flag checked between batches (the
   default: the model's batch size), and in 256-token chunks, against the whole prompt in one
   call (split by llama.cpp into the same batches): time to first token of a long prompt.

    python bench/server_bench.py [--json] [--tokens 120]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = "google/gemma/gemma.gguf"
CODE_PROMPT = "Write a Python function that returns the n-th Fibonacci number.\n\ndef fibonacci(n):\n"
LONG_PROMPT = "The history of the printing press begins in the fifteenth century. " * 150


def _isolate(tmp: Path) -> None:
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME", "HOME", "HF_HOME"):
        os.environ[var] = str(tmp / var)


def _post(port: int, body: dict[str, Any], path: str = "/api/v0/completions") -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"{resp.status}: {data}")
    return data


def predicted_outputs(port: int, tokens: int, runs: int = 3) -> dict[str, Any]:
    base = {
        "model": MODEL,
        "prompt": CODE_PROMPT,
        "max_tokens": tokens,
        "temperature": 0,
        # without a penalty: llama.cpp's logits for a batch and for one token differ slightly,
        # and a penalty can turn that into another token at a near-tie (any draft, not only here)
        "repeat_penalty": 1.0,
        "draft_model": "",
    }
    _post(port, {**base, "max_tokens": 8})  # warm: load, first batch sizes
    plain = _post(port, base)
    text = plain["choices"][0]["text"]
    words = text.split(" ")
    edited = " ".join(w.upper() if i % 10 == 5 else w for i, w in enumerate(words))
    bodies = {
        "plain": base,
        "exact_prediction": {**base, "prediction": {"type": "content", "content": text}},
        "edited_prediction": {**base, "prediction": {"type": "content", "content": edited}},
    }
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in bodies}
    for run in range(runs):  # interleaved, the order alternating: a shared machine drifts
        for name in list(bodies) if run % 2 == 0 else list(bodies)[::-1]:
            rows[name].append(_post(port, bodies[name]))
    speed = {
        name: statistics.median(r["stats"]["tokens_per_second"] for r in got) for name, got in rows.items()
    }
    out: dict[str, Any] = {"completion_tokens": plain["usage"]["completion_tokens"], "runs": runs}
    for name, got in rows.items():
        s = got[-1]["stats"]
        out[name] = {
            "tokens_per_second": round(speed[name], 2),
            "speedup": round(speed[name] / speed["plain"], 3),
            "accepted": s["accepted_draft_tokens_count"],
            "rejected": s["rejected_draft_tokens_count"],
            "mean_tokens_per_step": round(s["mean_tokens_per_step"] or 0, 3),
            "same_text": all(r["choices"][0]["text"] == text for r in got),
        }
    return out


def hang_up_during_prompt(port: int) -> dict[str, Any]:
    from app.engines.llamacpp import LlamaCppModel

    batches: list[float] = []  # seconds of each prompt batch read (not the one-token steps)
    real_eval = LlamaCppModel.eval

    def timed_eval(self: LlamaCppModel, tokens: Any, n_logits: int = 1) -> None:
        t0 = time.perf_counter()
        real_eval(self, tokens, n_logits)
        if len(tokens) > 64:
            batches.append(time.perf_counter() - t0)

    LlamaCppModel.eval = timed_eval  # type: ignore[method-assign]
    try:
        body = {"model": MODEL, "prompt": LONG_PROMPT, "max_tokens": 1, "temperature": 0, "draft_model": ""}
        full = _post(port, body)  # the whole prompt read once
        read_time, full_batches = full["stats"]["time_to_first_token"], len(batches)
        _post(port, {**body, "prompt": "Hello"})  # another prompt in the cache
        data = json.dumps({**body, "prompt": LONG_PROMPT + " Again."}).encode()
        batches.clear()
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(
            b"POST /v1/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        time.sleep(0.5)  # reading has begun
        sock.close()
        t0 = time.perf_counter()
        _post(port, {**body, "prompt": "Hi", "max_tokens": 4})
        waited = time.perf_counter() - t0
    finally:
        LlamaCppModel.eval = real_eval  # type: ignore[method-assign]
    return {
        "prompt_tokens": full["usage"]["prompt_tokens"],
        "prompt_read_seconds": round(read_time, 3),
        "prompt_batches": full_batches,
        "batches_read_after_hang_up": len(batches),
        "next_client_waited_seconds": round(waited, 3),
        "waited_over_whole_read": round(waited / read_time, 3),
    }


def chunked_prompt_cost(gguf: Path, runs: int = 6) -> dict[str, Any]:
    import app.engines.prompt_reading as reading
    from app.core.request import GenerationRequest, SamplingSettings
    from app.engines.llamacpp import LlamaCppModel, LoadOptions

    model = LlamaCppModel(gguf, LoadOptions(n_ctx=4096))
    prompt = LONG_PROMPT[: len(LONG_PROMPT) // 2]  # ~900 tokens
    request = GenerationRequest(prompt=prompt, max_tokens=1, sampling=SamplingSettings(temperature=0))
    ways = {"batches (default)": None, "chunks_256": 256, "whole_prompt_per_call": 1_000_000}
    times: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for run in range(runs):
            for name in list(ways) if run % 2 == 0 else list(ways)[::-1]:  # alternate the order
                chunk = ways[name]
                reading.PROMPT_CHUNK = chunk
                model.truncate(0)
                result = list(model.generate(request))[-1]
                times[name].append(result.stats.time_to_first_token)
    finally:
        reading.PROMPT_CHUNK = None
        model.close()
    medians = {k: round(statistics.median(v), 3) for k, v in times.items()}
    whole = medians["whole_prompt_per_call"]
    return {"seconds": medians, "ratio_to_whole": {k: round(v / whole, 3) for k, v in medians.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tokens", type=int, default=120)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _isolate(Path(tmp))
        from app.library.paths import models_dir
        from app.server.config import ServerConfig
        from app.server.serving import LocalServer
        from tests.model_factory import gemma_q4

        gguf = gemma_q4()
        folder = models_dir() / "google" / "gemma"
        folder.mkdir(parents=True)
        os.symlink(gguf, folder / "gemma.gguf")
        server = LocalServer(ServerConfig(port=0))
        server.start()
        try:
            report = {
                "predicted_outputs": predicted_outputs(server.port, args.tokens),
                "hang_up_during_prompt": hang_up_during_prompt(server.port),
            }
        finally:
            server.stop()
        report["chunked_prompt_reading"] = chunked_prompt_cost(gguf)
    print(json.dumps(report, indent=None if args.json else 2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
