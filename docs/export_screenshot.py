"""Takes the README's screenshot of an exported conversation: two replies written by the real
Gemma 3 270M pair (its F16 twin as main, the Q4_K_M as draft, temperature 0, a fixed draft
length; the first reply regenerated at temperature 0.7), stored as the chat stores them,
exported as HTML and opened in headless Chromium. The stats lines show what this computer
measured while it ran.

    SPECULA_TEST_MODELS=.test-models python docs/export_screenshot.py [--out docs]

Writes chat-export.png (light) and chat-export-dark.png. Every user folder points at a fresh
temporary directory, so nothing of yours is read or changed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPTS = (
    "Write a Python function that returns the capital of a country, with a short docstring.",
    "Now name three famous places in Paris, as a list.",
)


def isolate_user_folders() -> Path:
    root = Path(tempfile.mkdtemp(prefix="specula-export-shot-"))
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        os.environ[var] = str(root / var.lower())
    return root


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--width", type=int, default=900)
    ap.add_argument("--height", type=int, default=1000)
    args = ap.parse_args()
    home = isolate_user_folders()

    from app.chat.reply_flight import Flight
    from app.chat.session import REGENERATE, SEND, ChatSession, FixedPair
    from app.chat.store import ChatStore
    from app.chat.stream_batch import StreamBatcher
    from app.chat.transfer.exporting import export
    from app.core.events import GenerationResult
    from app.core.request import ChatMessage, DraftSettings, GenerationRequest, Role, SamplingSettings
    from app.engines.drafting import ModelDraft
    from app.engines.llamacpp import LlamaCppModel, LoadOptions
    from tests.model_factory import gemma_f16_twin, gemma_q4

    main_model = LlamaCppModel(gemma_f16_twin(), LoadOptions(n_ctx=2048))
    draft_model = LlamaCppModel(gemma_q4(), LoadOptions(n_ctx=2048))
    store = ChatStore(home / "conversations.sqlite3")
    session = ChatSession(store)
    session.open_latest_or_new()
    names = {"gemma-3-270m-f16.gguf": "Gemma 3 270M F16", "gemma-3-270m-q4_k_m.gguf": "Gemma 3 270M Q4_K_M"}
    session.models = FixedPair("gemma-3-270m-f16.gguf", "gemma-3-270m-q4_k_m.gguf", names)

    def reply(kind: str, text: str = "", temperature: float = 0.0) -> None:
        r = session.begin(kind, text, {"temperature": temperature})
        main, draft = "gemma-3-270m-f16.gguf", "gemma-3-270m-q4_k_m.gguf"
        flight = Flight.start(r, main, draft, lambda k: names.get(k, k))
        request = GenerationRequest(
            messages=tuple(ChatMessage(Role(m.role), m.content) for m in r.context),
            max_tokens=64,
            sampling=SamplingSettings(temperature=temperature, seed=7),
            draft=DraftSettings(max_draft_size=6, p_min=0.0, auto=False),
        )
        batcher = StreamBatcher()
        result = None
        for item in main_model.generate(request, draft=ModelDraft(draft_model)):
            if isinstance(item, GenerationResult):
                result = item
                continue
            batch = batcher.add(item)
            if batch is not None:
                flight.absorb(flight.shift(batch))
        last = batcher.flush()
        if last is not None:
            flight.absorb(flight.shift(last))
        flight.message.stats = flight.final_stats(result)
        session.commit(flight.stored())

    reply(SEND, PROMPTS[0])
    reply(REGENERATE, temperature=0.7)
    reply(SEND, PROMPTS[1])
    assert session.conversation_id is not None
    page = home / "chat.html"
    export(store, [session.conversation_id], "html", page)
    store.close()
    main_model.close()
    draft_model.close()

    chromium = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None
    )
    if chromium is None:
        print("needs Chromium (Debian: apt install chromium)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, flags in (
        ("chat-export.png", []),
        ("chat-export-dark.png", ["--force-dark-mode", "--blink-settings=preferredColorScheme=0"]),
    ):
        shot = args.out / name
        subprocess.run(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={home / 'chromium'}",
                f"--window-size={args.width},{args.height}",
                *flags,
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
        print("wrote", shot)
    shutil.rmtree(home / "chromium", ignore_errors=True)
    print("the page:", page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
