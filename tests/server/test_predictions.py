"""Predicted Outputs through the server: the prediction drafts like prompt lookup, counted
and coloured (streamed `"draft": true`) the same way, and never changes the reply."""

from __future__ import annotations

import json

from tests.server.conftest import MAIN, TWIN, WORDS, call, sse_events


def ask(**extra: object) -> dict:
    return {
        "model": WORDS,
        "messages": [{"role": "user", "content": "the cat"}],
        "max_tokens": 60,
        "temperature": 0,
        **extra,
    }


def test_a_prediction_matching_the_reply_is_mostly_accepted(server):
    status, first, _ = call(server, "POST", "/api/v0/chat/completions", ask())
    assert status == 200, first
    text = first["choices"][0]["message"]["content"]
    assert text.startswith("abcdefgh")  # plain text: the prediction can be the reply's text
    status, body, _ = call(
        server,
        "POST",
        "/api/v0/chat/completions",
        # fixed draft sizes: Auto would (rightly) draft little on a model this fast to step
        ask(prediction={"type": "content", "content": text}, draft_auto=False, draft_max=8),
    )
    assert status == 200, body
    s = body["stats"]
    assert body["choices"][0]["message"]["content"] == text
    assert s["draft_model"] == "Predicted output"
    assert s["accepted_draft_tokens_count"] >= 0.6 * body["usage"]["completion_tokens"], json.dumps(s)
    assert s["mean_tokens_per_step"] > 1.5


def test_predicted_tokens_are_streamed_as_draft_tokens(server):
    text = call(server, "POST", "/v1/chat/completions", ask())[1]["choices"][0]["message"]["content"]
    prediction = {
        "type": "content",
        "content": [{"type": "text", "text": text[:40]}, {"type": "text", "text": text[40:]}],
    }
    body = ask(prediction=prediction, stream=True, draft_auto=False, draft_max=8)
    raw = call(server, "POST", "/api/v0/chat/completions", body)[1]["raw"]
    chunks = [json.loads(e) for e in sse_events(raw)[:-1]]
    stats = chunks[-1]["stats"]
    draft_chunks = sum(1 for c in chunks if c["choices"][0].get("draft"))
    assert draft_chunks == stats["accepted_draft_tokens_count"] >= 40
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == text


def test_the_openai_client_sends_predictions(server):
    from openai import OpenAI

    client = OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0)
    text = (
        client.chat.completions.create(
            model=WORDS, messages=[{"role": "user", "content": "the"}], max_tokens=30, temperature=0
        )
        .choices[0]
        .message.content
    )
    again = client.chat.completions.create(
        model=WORDS,
        messages=[{"role": "user", "content": "the"}],
        max_tokens=30,
        temperature=0,
        prediction={"type": "content", "content": text},
    )
    assert again.choices[0].message.content == text


def test_a_wrong_prediction_falls_back_on_the_draft_model(server):
    body = {
        "model": MAIN,
        "draft_model": TWIN,
        "prompt": "the",
        "max_tokens": 30,
        "temperature": 0,
        "draft_p_min": 0,
        "draft_auto": False,
    }
    plain = call(server, "POST", "/api/v0/completions", body)[1]
    status, guessed, _ = call(
        server,
        "POST",
        "/api/v0/completions",
        {**body, "prediction": {"type": "content", "content": "zzz qqq"}},
    )
    assert status == 200
    assert guessed["choices"][0]["text"] == plain["choices"][0]["text"]
    assert guessed["stats"]["draft_model"] == "Predicted output + twin.gguf"
    assert guessed["stats"]["accepted_draft_tokens_count"] > 0  # the twin drafted where the guess could not


def test_a_bad_prediction_is_a_400(server):
    for prediction in (
        {"type": "file", "content": "x"},
        {"type": "content"},
        {"type": "content", "content": 5},
    ):
        status, body, _ = call(server, "POST", "/v1/chat/completions", ask(prediction=prediction))
        assert status == 400, body
        assert body["error"]["param"].startswith("prediction"), body
