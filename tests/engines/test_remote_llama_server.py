"""llama.cpp's own `llama-server` (built from the llama.cpp source in llama-cpp-python's sdist:
tests/llama_server.py) started with the Gemma pair (`-md`, draft-simple) on 127.0.0.1, used
as a remote engine: the counts it reports are the reply's drafted and accepted tokens and
its acceptance; it does not say which tokens its draft wrote, so none is coloured and the
details say so. Skipped, with the reason, where llama-server cannot be built."""

from __future__ import annotations

import httpx
import pytest

from app.chat.reply_stats import ReplyStats
from app.chat.stats_text import acceptance_text, detail_rows
from app.core.events import GenerationResult, SpeculationReport, TokenEvent, TokenOrigin
from app.core.request import ChatMessage, GenerationRequest, Role, SamplingSettings
from app.library.compat_index import CompatibilityIndex
from app.library.library import ModelLibrary
from app.runtime import ModelRuntime
from tests.llama_server import BUILD_TIMEOUT, LlamaServer, llama_server, llama_server_binary
from tests.model_factory import gemma_f16_twin, gemma_q4

pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT + 600)]  # the first run builds it

ALIAS = "gemma-pair"
PROMPT = "Name three colours."


@pytest.fixture(scope="module")
def server() -> LlamaServer:
    binary, why = llama_server_binary()
    if binary is None:
        pytest.skip(why)
    with llama_server(binary, gemma_f16_twin(), gemma_q4(), ALIAS) as srv:
        yield srv


def test_its_drafted_and_accepted_counts_are_the_replys_and_no_token_is_coloured(server):
    library = ModelLibrary(roots=[])
    library.add_server(server.url, "lcpp")
    library.refresh_servers()
    key = f"lcpp/{ALIAS}"
    entry = library.all_entries[key]
    assert (entry.engine, entry.remote.kind, entry.remote.online) == ("remote", "llama.cpp", True)
    report = CompatibilityIndex(library).drafts_for(key)
    assert report.compatible == []
    assert "drafts with the model it was started with (-md)" in report.advice
    request = GenerationRequest(
        messages=(ChatMessage(Role.USER, PROMPT),),
        max_tokens=40,
        sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
    )
    runtime = ModelRuntime(library)
    try:
        with runtime.lease(key, None) as lease:
            items = list(lease.generate(request))
    finally:
        runtime.close()
    tokens = [i for i in items if isinstance(i, TokenEvent)]
    result = items[-1]
    assert isinstance(result, GenerationResult)
    assert result.error is None
    # the same request straight to the server (not streamed): its own figures
    body = {
        "model": ALIAS,
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": 40,
        "temperature": 0,
        "repeat_penalty": 1.0,
    }
    direct = httpx.post(f"{server.url}/v1/chat/completions", json=body, timeout=300).json()
    timings = direct["timings"]
    assert result.text == direct["choices"][0]["message"]["content"]
    s = result.stats
    assert s.speculation is SpeculationReport.COUNTS
    assert s.total_draft_tokens_count == timings["draft_n"] > 0
    assert s.accepted_draft_tokens_count == timings["draft_n_accepted"]
    assert s.rejected_draft_tokens_count == timings["draft_n"] - timings["draft_n_accepted"]
    assert s.predicted_tokens_count == direct["usage"]["completion_tokens"]
    assert s.rounds == []  # it does not report them
    assert all(t.origin is TokenOrigin.MAIN for t in tokens)  # nor which tokens were drafted
    shown = ReplyStats.named(s, key, "")
    rate = round(100 * timings["draft_n_accepted"] / timings["draft_n"])
    assert acceptance_text(shown) == (
        f"Accepted {timings['draft_n_accepted']}/{timings['draft_n']} draft tokens ({rate}%)"
    )
    rows = dict(detail_rows(shown))
    assert rows["Draft model"] == "llama.cpp server's own draft"
    assert rows["Colours"].startswith("The server reports how many draft tokens it accepted, not which")
