"""Another Specula as the server (`python -m app serve` on its own port, with its own home and
the Gemma pair in its library), used through our library, runtime and remote engine: its
drafts are ours to choose, its greedy text is the local reply's, its draft flags colour the
tokens and its counts and rounds are the stats; Stop cancels the reply on that server; a
wrong key is a clear row and a clear error."""

from __future__ import annotations

import threading

import httpx
import pytest

from app.core.errors import ModelLoadError
from app.core.events import GenerationResult, SpeculationReport, StopReason, TokenEvent, TokenOrigin
from app.core.request import ChatMessage, DraftSettings, GenerationRequest, Role, SamplingSettings
from app.library.compat_index import CompatibilityIndex
from app.library.library import ModelLibrary
from app.library.paths import models_dir
from app.runtime import ModelRuntime
from tests.model_factory import gemma_f16_twin, gemma_q4
from tests.remote_servers import GEMMA_DRAFT, GEMMA_MAIN, SpeculaServer, place_models, specula_server

pytestmark = pytest.mark.slow

KEY = "open sesame"
MAIN, DRAFT = f"ws/{GEMMA_MAIN}", f"ws/{GEMMA_DRAFT}"
FIXED = DraftSettings(max_draft_size=4, min_draft_size=0, p_min=0.0, auto=False)  # the same drafts every time


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> SpeculaServer:
    home = tmp_path_factory.mktemp("second-specula")
    with specula_server(home, {GEMMA_MAIN: gemma_f16_twin(), GEMMA_DRAFT: gemma_q4()}, api_key=KEY) as srv:
        yield srv


@pytest.fixture
def library(server) -> ModelLibrary:
    """Our library: the same pair on this computer (for the local reply), and the server."""
    place_models(models_dir().parent.parent, {})  # (the autouse fixture made our home)
    for key, source in {GEMMA_MAIN: gemma_f16_twin(), GEMMA_DRAFT: gemma_q4()}.items():
        target = models_dir() / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(source)
    lib = ModelLibrary()
    lib.add_server(server.url, "ws", KEY)
    lib.refresh_servers()
    return lib


def request(text: str, max_tokens: int) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage(Role.USER, text),),
        max_tokens=max_tokens,
        sampling=SamplingSettings(temperature=0.0, repeat_penalty=1.0),
        draft=FIXED,
    )


def reply(runtime: ModelRuntime, main: str, draft: str | None, req: GenerationRequest, cancel=None):
    tokens: list[TokenEvent] = []
    result = None
    with runtime.lease(main, draft) as lease:
        for item in lease.generate(req, cancel=cancel):
            if isinstance(item, TokenEvent):
                tokens.append(item)
                if cancel is not None and len(tokens) == 3:
                    cancel.set()
            elif isinstance(item, GenerationResult):
                result = item
    assert result is not None
    return tokens, result


def test_its_models_are_listed_under_its_name_with_its_drafts(library):
    entry = library.all_entries[MAIN]
    assert (entry.engine, entry.remote.kind, entry.remote.online) == ("remote", "specula", True)
    assert (entry.architecture, entry.quantization) == ("gemma3", "F16")
    report = CompatibilityIndex(library).drafts_for(MAIN)
    assert [o.entry.key for o in report.compatible] == [DRAFT]  # its library's verdict
    assert report.prompt_lookup  # it drafts with prompt lookup too


def test_greedy_text_is_the_local_replys_and_green_tokens_are_the_servers_counts(library, server):
    runtime = ModelRuntime(library)
    try:
        req = request("Name three colours.", 40)
        tokens, remote = reply(runtime, MAIN, DRAFT, req)
        _, local = reply(runtime, GEMMA_MAIN, GEMMA_DRAFT, req)
    finally:
        runtime.close()
    assert remote.text == local.text
    assert "".join(t.text for t in tokens) == remote.text
    # the same request straight to the server: the stats it reports
    body = {
        "model": GEMMA_MAIN,
        "draft_model": GEMMA_DRAFT,
        "messages": [{"role": "user", "content": "Name three colours."}],
        "max_tokens": 40,
        "temperature": 0,
        "repeat_penalty": 1.0,
        "draft_auto": False,
        "draft_max": 4,
        "draft_min": 0,
        "draft_p_min": 0.0,
    }
    auth = {"Authorization": f"Bearer {KEY}"}
    direct = httpx.post(f"{server.url}/api/v0/chat/completions", json=body, headers=auth, timeout=300).json()[
        "stats"
    ]
    s = remote.stats
    assert s.speculation is SpeculationReport.TOKENS
    assert s.accepted_draft_tokens_count == direct["accepted_draft_tokens_count"] > 0
    assert s.rejected_draft_tokens_count == direct["rejected_draft_tokens_count"]
    assert s.total_draft_tokens_count == direct["total_draft_tokens_count"]
    assert s.rounds == direct["rounds"]
    assert s.verify_steps == direct["verify_steps"]
    green = [t for t in tokens if t.origin is TokenOrigin.DRAFT]
    assert (
        len(green)
        == s.draft_tokens_in_reply
        == direct["accepted_draft_tokens_count"] - direct["accepted_after_stop_count"]
    )
    # rounds rebuilt from the flags: each verify step's drafted tokens, then the main model's own
    for step, (_, accepted) in enumerate(s.rounds, start=1):
        assert sum(1 for t in green if t.round == step) == accepted


def test_stop_cancels_the_reply_on_the_server(library, server):
    runtime = ModelRuntime(library)
    stop = threading.Event()
    try:
        long_one = request("Count from one to one thousand in words.", 2000)
        tokens, result = reply(runtime, MAIN, DRAFT, long_one, stop)
    finally:
        runtime.close()
    assert result.stats.stop_reason is StopReason.CANCELLED
    assert 3 <= len(tokens) < 2000
    line = server.wait_for_log("the client disconnected")
    assert line is not None, "\n".join(server.log)
    assert "POST /api/v0/chat/completions" in line


def test_a_wrong_key_is_a_problem_row_and_loading_says_why(server):
    lib = ModelLibrary(roots=[])
    lib.add_server(server.url, "ws", "not the key")
    lib.refresh_servers()
    [problem] = lib.problems
    assert problem.reason.startswith("server ws: ")
    assert "(HTTP 401)" in problem.reason
    lib.add_server(server.url, "ws", KEY)
    lib.refresh_servers()
    assert MAIN in lib.all_entries
    lib.add_server(server.url, "ws", "not the key")
    with pytest.raises(ModelLoadError, match="HTTP 401"):
        ModelRuntime(lib).load(MAIN)
