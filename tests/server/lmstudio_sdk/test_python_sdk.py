"""The real `lmstudio` Python SDK against a real server (tiny models; the real Gemma pair is in
test_gemma.py): predictions with a draft, the model's default draft, complete(), cancel, a
dropped socket, the model calls, the request log."""

from __future__ import annotations

import time

import pytest

from app.library.model_defaults import ModelDefaultsStore
from tests.server.conftest import MAIN, TWIN, WORDS, call, chat_body
from tests.server.lmstudio_sdk.conftest import query, raw_socket

GREEDY = {"temperature": 0.0, "repeatPenalty": 1.0, "maxTokens": 16}
DRAFTED = {**GREEDY, "draftModel": TWIN, "speculativeDecodingNumDraftTokensExact": 4}


def wait_for(condition, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        time.sleep(0.02)


def test_respond_with_a_draft_streams_drafted_fragments_and_stats_that_add_up(server, lms_client):
    model = lms_client.llm.model(MAIN)
    plain = model.respond("the cat", config={**GREEDY, "draftModel": ""})
    assert plain.stats.used_draft_model_key is None
    assert plain.stats.total_draft_tokens_count is None
    stream = model.respond_stream("the cat", config=DRAFTED)
    fragments = list(stream)
    result = stream.result()
    s = result.stats
    assert result.content == "".join(f.content for f in fragments) == plain.content
    assert s.stop_reason == "maxPredictedTokensReached"
    assert s.predicted_tokens_count == 16
    assert sum(f.tokens_count for f in fragments) == 16
    assert s.used_draft_model_key == TWIN
    assert s.accepted_draft_tokens_count > 0
    assert s.total_draft_tokens_count == (
        s.accepted_draft_tokens_count + s.rejected_draft_tokens_count + s.ignored_draft_tokens_count
    )
    # a token without text rides with the next fragment: a drafted fragment holds at least one
    # accepted token and at most all of its tokens
    marked = [f.tokens_count for f in fragments if f.contains_drafted]
    assert len(marked) <= s.accepted_draft_tokens_count <= sum(marked)
    assert s.total_tokens_count == s.prompt_tokens_count + 16
    assert s.tokens_per_second > 0
    assert result.model_info.model_key == MAIN
    assert result.model_info.format == "gguf"
    assert result.prediction_config.draft_model == TWIN
    assert result.prediction_config.speculative_decoding_min_continue_drafting_probability == 0.0
    assert model.respond("the cat", config=DRAFTED).content == plain.content  # not streamed
    http = call(server, "POST", "/api/v0/chat/completions", chat_body())[1]  # the same settings
    assert http["choices"][0]["message"]["content"] == plain.content


def test_one_log_record_per_prediction(server, lms_client):
    lms_client.llm.model(MAIN).respond("the cat", config=DRAFTED)
    (record,) = [r for r in server.requests() if r.path == "/llm/predict"]
    assert record.method == "WS"
    assert record.status == 200
    assert record.model == MAIN
    assert record.tokens == 16
    assert record.acceptance == 1.0
    assert record.draft == "twin.gguf"


def test_the_models_default_draft_applies_without_a_draft_model(server, lms_client):
    ModelDefaultsStore().update(MAIN, {"draft_model": TWIN})
    server.runtime.defaults = ModelDefaultsStore()
    model = lms_client.llm.model(MAIN)
    result = model.respond("the cat", config=GREEDY)
    assert result.stats.used_draft_model_key == TWIN
    assert result.prediction_config.draft_model == TWIN
    assert model.respond("the cat", config={**GREEDY, "draftModel": ""}).stats.used_draft_model_key is None


def test_complete_sends_the_prompt_as_it_is(server, lms_client):
    result = lms_client.llm.model(MAIN).complete("the dog", config=DRAFTED)
    body = {"model": MAIN, "prompt": "the dog", "max_tokens": 16, "temperature": 0, "repeat_penalty": 1.0}
    http = call(server, "POST", "/v1/completions", body)[1]
    assert result.content == http["choices"][0]["text"]
    assert result.stats.accepted_draft_tokens_count > 0


def test_cancel_stops_the_prediction_and_ends_it_as_user_stopped(server, lms_client):
    model = lms_client.llm.model(WORDS)
    stream = model.respond_stream("a", config={**GREEDY, "maxTokens": 1_000_000})
    for i, _ in enumerate(stream):
        if i == 3:
            stream.cancel()
    s = stream.result().stats
    assert s.stop_reason == "userStopped"
    assert s.predicted_tokens_count < 1_000_000
    wait_for(lambda: len(server.server.jobs) == 0, "the job to end")
    assert [r.status for r in server.requests() if r.path == "/llm/predict"] == [200]


def test_a_dropped_socket_cancels_its_prediction(server):
    history = {"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]}
    fields = [{"key": "llm.prediction.maxPredictedTokens", "value": {"checked": True, "value": 1_000_000}}]
    param = {
        "modelSpecifier": query(WORDS),
        "history": history,
        "predictionConfigStack": {"layers": [{"layerName": "apiOverride", "config": {"fields": fields}}]},
    }
    with raw_socket(server) as ws:
        ws.send_json(
            {"type": "channelCreate", "endpoint": "predict", "channelId": 1, "creationParameter": param}
        )
        kinds = []
        while kinds.count("fragment") < 3:
            kinds.append(ws.receive_json(timeout=60)["message"]["type"])
        assert kinds[0] == "promptProcessingProgress"
    wait_for(lambda: len(server.server.jobs) == 0, "the job to end")
    (record,) = server.requests()
    assert record.status == 499
    assert record.error == "the client disconnected"
    assert record.tokens is None or record.tokens < 1_000_000
    assert call(server, "POST", "/v1/chat/completions", chat_body())[0] == 200  # the model is free


def test_model_calls(server, lms_client):
    import lmstudio as lms

    downloaded = {m.model_key: m for m in lms_client.list_downloaded_models()}
    assert {MAIN, TWIN, WORDS} <= set(downloaded)
    assert downloaded[MAIN].type == "llm"
    assert lms_client.llm.list_loaded() == []
    progress: list[float] = []
    model = lms_client.llm.model(MAIN, ttl=120, on_load_progress=progress.append)
    assert progress[-1] == 1.0
    assert progress == sorted(progress)
    assert server.server.jit.tracked == {MAIN: 120.0}  # unloaded when idle, like any model loaded on demand
    assert [m.identifier for m in lms_client.llm.list_loaded()] == [MAIN]
    assert lms_client.llm.model(MAIN).identifier == MAIN  # already loaded
    info = model.get_info()
    assert info.model_key == MAIN
    assert info.context_length == model.get_context_length() > 0
    assert info.architecture == "llama"
    assert info.path == MAIN
    with server.runtime.lease(MAIN) as lease:
        expected = lease.main.tokenize("the cat", add_special=False)
    assert model.tokenize("the cat") == expected
    assert model.count_tokens("the cat") == len(expected)
    assert model.get_load_config().context_length == info.context_length
    model.unload()
    wait_for(lambda: lms_client.llm.list_loaded() == [], "the unload")
    with pytest.raises(lms.LMStudioServerError, match="no loaded model has the identifier"):
        model.unload()
    server.runtime.load(TWIN, pin=True)  # the app's chat loaded it: it stays
    with pytest.raises(lms.LMStudioServerError, match="loaded by the app's chat"):
        lms_client.llm.unload(TWIN)
    with pytest.raises(lms.LMStudioModelNotFoundError):
        lms_client.llm.model("nothing/like/this.gguf")


def test_stopping_the_server_mid_prediction_says_why(make_server):
    import threading

    import lmstudio as lms

    srv = make_server()
    with lms.Client(f"127.0.0.1:{srv.port}") as client:
        stream = client.llm.model(WORDS).respond_stream("a", config={**GREEDY, "maxTokens": 1_000_000})
        stopper = threading.Thread(target=srv.server.stop)

        def read_and_stop_at_the_third() -> None:
            for i, _ in enumerate(stream):
                if i == 3:
                    stopper.start()

        with pytest.raises(lms.LMStudioServerError, match="the server is stopping"):
            read_and_stop_at_the_third()
        stopper.join(30)
    assert not stopper.is_alive()
    assert not srv.server.running
    assert [r.status for r in srv.requests() if r.path == "/llm/predict"] == [503]


def test_draft_model_none_is_no_draft_as_on_the_http_api(server, lms_client):
    ModelDefaultsStore().update(MAIN, {"draft_model": TWIN})
    server.runtime.defaults = ModelDefaultsStore()
    result = lms_client.llm.model(MAIN).respond("the cat", config={**GREEDY, "draftModel": "None"})
    assert result.stats.used_draft_model_key is None
    assert result.prediction_config.draft_model == ""
