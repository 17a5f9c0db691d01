"""The remote engine against real HTTP servers on 127.0.0.1 that speak as vLLM, SGLang or a
plain OpenAI-compatible server do (tests/openai_stub_server.py): what is sent (sampling
mapped per server), what comes back (tokens, stats, the server's own error), Stop, wrong
keys, servers that are down or never answer. Through the library and the runtime, as the
chat and the command line use them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from app.core.errors import ModelLoadError, SpeculaError
from app.core.events import GenerationResult, SpeculationReport, StopReason, TokenEvent, TokenOrigin
from app.core.request import ChatMessage, GenerationRequest, Role, SamplingSettings
from app.engines.remote import RemoteServerError
from app.library.library import ModelLibrary
from app.library.server_listing import ServerKind
from app.runtime import ModelRuntime
from tests.openai_stub_server import StubReplies, finish_chunk, stub_server, text_chunk
from tests.remote_servers import FileKeyring

HELLO = [
    text_chunk("Hel"),
    text_chunk("lo"),
    finish_chunk("stop", usage={"prompt_tokens": 7, "completion_tokens": 2}),
]


def chat(text: str = "Hi", **sampling: object) -> GenerationRequest:
    return GenerationRequest(
        messages=(ChatMessage(Role.SYSTEM, "Be brief."), ChatMessage(Role.USER, text)),
        max_tokens=32,
        sampling=SamplingSettings(**sampling),  # type: ignore[arg-type]
        stop=("\n\n",),
    )


def library_with(url: str, name: str = "box", key: str | None = None, timeout: float = 4.0) -> ModelLibrary:
    library = ModelLibrary(roots=[], server_timeout=timeout)
    library.add_server(url, name, key)
    library.refresh_servers()
    return library


def run(library: ModelLibrary, key: str, request: GenerationRequest, cancel=None):
    runtime = ModelRuntime(library)
    try:
        with runtime.lease(key, None) as lease:
            items = list(lease.generate(request, cancel=cancel))
    finally:
        runtime.close()
    tokens = [i for i in items if isinstance(i, TokenEvent)]
    result = items[-1]
    assert isinstance(result, GenerationResult)
    return tokens, result


def test_a_plain_openai_server_chats_with_speed_and_no_speculation():
    replies = StubReplies(chunks=HELLO)
    with stub_server(replies) as url:
        library = library_with(url)
        entry = library.all_entries["box/stub-model"]
        assert (entry.engine, entry.remote.kind, entry.remote.online) == ("remote", "openai", True)
        tokens, result = run(library, "box/stub-model", chat(temperature=0.0, seed=3))
    assert [t.text for t in tokens] == ["Hel", "lo"]
    assert all(t.origin is TokenOrigin.MAIN for t in tokens)
    s = result.stats
    assert (result.text, s.predicted_tokens_count, s.prompt_tokens_count) == ("Hello", 2, 7)
    assert s.speculation is SpeculationReport.NONE
    assert s.time_to_first_token > 0
    assert s.stop_reason is StopReason.EOS
    body = replies.requests[0]
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (body["model"], body["temperature"], body["seed"], body["stop"]) == (
        "stub-model",
        0.0,
        3,
        ["\n\n"],
    )
    assert body["stream"] is True
    # a plain OpenAI server is sent only OpenAI's own fields (it may refuse others)
    assert not {"top_k", "min_p", "repeat_penalty", "repetition_penalty", "draft_model"} & set(body)


@pytest.mark.parametrize(
    ("owned_by", "kind", "expected", "absent"),
    [
        ("vllm", ServerKind.VLLM, {"top_k": 7, "min_p": 0.1, "repetition_penalty": 1.2}, {"repeat_penalty"}),
        (
            "sglang",
            ServerKind.SGLANG,
            {"top_k": 7, "repetition_penalty": 1.2, "return_spec_tokens_details": True},
            {"repeat_penalty"},
        ),
        (
            "llamacpp",
            ServerKind.LLAMA_CPP,
            {"top_k": 7, "min_p": 0.1, "repeat_penalty": 1.2},
            {"draft_model"},
        ),
    ],
)
def test_sampling_is_sent_in_the_fields_each_server_reads(owned_by, kind, expected, absent):
    replies = StubReplies(owned_by=owned_by, chunks=HELLO)
    with stub_server(replies) as url:
        library = library_with(url)
        assert library.listings["box"].kind is kind
        run(library, "box/stub-model", chat(top_k=7, min_p=0.1, repeat_penalty=1.2))
    body = replies.requests[0]
    assert {k: body[k] for k in expected} == expected
    assert not absent & set(body)


def test_vllm_rounds_reach_the_stats_but_no_token_is_coloured():
    metrics = {
        "num_spec_steps": 2,
        "num_draft_tokens": 6,
        "num_accepted_draft_tokens": 4,
        "per_step_drafted": [3, 3],
        "per_step_accepted": [3, 1],
    }
    chunks = [
        *HELLO[:2],
        finish_chunk("length", usage={"completion_tokens": 7}, metrics={"speculative_decoding": metrics}),
    ]
    with stub_server(StubReplies(owned_by="vllm", chunks=chunks)) as url:
        tokens, result = run(library_with(url), "box/stub-model", chat())
    s = result.stats
    assert s.speculation is SpeculationReport.ROUNDS
    assert s.rounds == [[3, 3], [3, 1]]
    assert (s.accepted_draft_tokens_count, s.predicted_tokens_count) == (4, 7)
    assert s.stop_reason is StopReason.MAX_TOKENS
    assert all(t.origin is TokenOrigin.MAIN for t in tokens)


def test_a_refused_request_raises_the_servers_own_message_before_any_token():
    refusal = (400, {"error": {"message": "This model's maximum context length is 512 tokens", "type": "x"}})
    with stub_server(StubReplies(chunks=HELLO, refuse=refusal)) as url:
        library = library_with(url)
        runtime = ModelRuntime(library)
        try:
            with runtime.lease("box/stub-model", None) as lease, pytest.raises(RemoteServerError) as err:
                lease.generate(chat())
        finally:
            runtime.close()
    assert "maximum context length is 512 tokens (HTTP 400)" in str(err.value)


def test_an_error_midway_ends_the_reply_with_it():
    chunks = [text_chunk("Hel"), {"error": {"message": "the server ran out of memory"}}]
    with stub_server(StubReplies(chunks=chunks)) as url:
        tokens, result = run(library_with(url), "box/stub-model", chat())
    assert [t.text for t in tokens] == ["Hel"]
    assert result.error == "the server ran out of memory"
    assert result.stats.stop_reason is StopReason.ERROR


def test_stop_closes_the_stream_and_the_server_sees_the_client_leave():
    replies = StubReplies(chunks=[text_chunk(f" w{i}") for i in range(2000)], pause=0.02)
    stop = threading.Event()
    with stub_server(replies) as url:
        library = library_with(url)
        runtime = ModelRuntime(library)
        try:
            with runtime.lease("box/stub-model", None) as lease:
                seen = 0
                result = None
                for item in lease.generate(chat(), cancel=stop):
                    if isinstance(item, TokenEvent):
                        seen += 1
                        if seen == 3:
                            stop.set()
                    elif isinstance(item, GenerationResult):
                        result = item
        finally:
            runtime.close()
        assert replies.hung_up.wait(30), "the server never saw the client leave"
    assert result is not None
    assert result.stats.stop_reason is StopReason.CANCELLED
    assert result.error is None
    assert 3 <= len(result.text.split()) < 2000


def test_a_wrong_key_is_a_clear_problem_and_a_clear_error(file_keyring):
    with stub_server(StubReplies(chunks=HELLO, api_key="right")) as url:
        library = library_with(url, key="wrong")
        [problem] = library.problems
        assert problem.reason == "server box: Invalid API key (HTTP 401)"
        assert library.remote_entries == {}  # never listed: nothing to show offline
        right = library_with(url, name="box2", key="right")
        assert "box2/stub-model" in right.all_entries
        assert "right" in file_keyring.read_text()  # the key is in the keyring...
        saved = right.servers.file.path.read_text()
        assert "right" not in saved
        assert "wrong" not in saved  # ...never in our files
        right.add_server(url, "box2", "wrong")  # the key is no longer the server's
        with pytest.raises(ModelLoadError, match=r"refused: Invalid API key \(HTTP 401\)"):
            ModelRuntime(right).load("box2/stub-model")


def test_a_server_that_is_down_is_a_problem_row_and_its_models_show_offline():
    replies = StubReplies(chunks=HELLO)
    with stub_server(replies) as url:
        library = library_with(url)
    library.refresh_servers()  # the server is gone now
    [problem] = library.problems
    assert problem.reason.startswith("server box: unreachable")
    entry = library.all_entries["box/stub-model"]  # remembered from the last listing
    assert entry.remote.online is False
    assert entry.remote.detail.startswith("unreachable")
    # a new start remembers them too, offline until the server answers
    fresh = ModelLibrary(roots=[])
    assert fresh.all_entries["box/stub-model"].remote.online is False
    runtime = ModelRuntime(fresh)
    with pytest.raises(ModelLoadError, match="server box: unreachable"):
        runtime.load("box/stub-model")


@contextmanager
def silent_server() -> Iterator[str]:
    """A port that takes connections and never answers (a machine that hangs)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_server_that_never_answers_costs_at_most_its_timeout():
    with silent_server() as url:
        library = library_with(url, name="hung", timeout=0.3)
    [problem] = library.problems
    assert problem.reason == "server hung: no answer within 0.3 s"
    assert library.remote_entries == {}


def test_the_local_server_refuses_a_model_on_another_server():
    from app.library.resolve import UnknownModelError, resolve_model

    with stub_server(StubReplies(chunks=HELLO)) as url:
        library = library_with(url)
    with pytest.raises(UnknownModelError, match="is a model on another server"):
        resolve_model("box/stub-model", library, files=False)
    assert resolve_model("box/stub-model", library).remote is not None  # the app and the CLI may


def test_a_remote_model_cannot_take_a_draft_from_this_computer(library_models):
    with stub_server(StubReplies(chunks=HELLO)) as url:
        library = ModelLibrary(server_timeout=4.0)
        library.add_server(url, "box")
        library.refresh_servers()
        runtime = ModelRuntime(library)
        try:
            with pytest.raises(SpeculaError, match="drafts on its server"):
                runtime.lease("box/stub-model", library_models["twin"])
            with pytest.raises(SpeculaError, match="on another server"):
                runtime.lease(library_models["main"], "box/stub-model")
        finally:
            runtime.close()


@pytest.fixture
def file_keyring(isolated_user_dirs):
    """The test keyring (a file) every test uses; its file, to look into."""
    import keyring

    assert isinstance(keyring.get_keyring(), FileKeyring)
    return isolated_user_dirs / "keyring.json"
