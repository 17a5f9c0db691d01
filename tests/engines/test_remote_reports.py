"""What each kind of server reports of its speculation, mapped to the reply's stats: replies
recorded from (or constructed to the published shape of) llama-server, vLLM with
--per-request-spec-decode-metrics, SGLang with return_spec_tokens_details, another Specula
and a plain OpenAI-compatible server. No vLLM or SGLang runs here: their shapes are the ones
their own tests check (vLLM's tests/v1/.../test_per_request_spec_decode_metrics, SGLang's
spec_tokens_details_from_meta_info)."""

from __future__ import annotations

import pytest

from app.core.events import GenerationStats, SpeculationReport, StopReason
from app.engines.remote_reports import ReplyReport, own_draft
from app.library.server_listing import ServerKind

# the last chunk of a streamed chat completion from llama-server started with -md (its
# server-task.cpp: `timings` on the final chunk; draft_n only when it drafted)
LLAMA_LAST = {
    "choices": [{"finish_reason": "length", "index": 0, "delta": {}}],
    "created": 1765000000,
    "id": "chatcmpl-x",
    "model": "gemma",
    "object": "chat.completion.chunk",
    "timings": {
        "cache_n": 0,
        "prompt_n": 13,
        "prompt_ms": 40.1,
        "predicted_n": 48,
        "predicted_ms": 900.0,
        "draft_n": 44,
        "draft_n_accepted": 37,
    },
}

# vLLM's metrics chunk (the last one, with usage): `detailed` adds every step's counts
VLLM_DETAILED = {
    "num_spec_steps": 4,
    "num_draft_tokens": 12,
    "num_accepted_draft_tokens": 7,
    "mean_acceptance_length": 1 + 7 / 4,
    "draft_acceptance_rate": 7 / 12,
    "acceptance_histogram": [1, 0, 1, 2],
    "per_step_accepted": [3, 0, 3, 1],
    "per_step_drafted": [3, 3, 3, 3],
}


def report_of(kind: ServerKind, *chunks: dict) -> tuple[ReplyReport, GenerationStats, list]:
    report = ReplyReport(kind)
    pieces = [p for chunk in chunks for p in report.read(chunk)]
    stats = GenerationStats()
    report.apply(stats)
    return report, stats, pieces


def test_llama_server_timings_give_counts_and_acceptance_but_no_token_is_coloured():
    text = {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}
    report, stats, pieces = report_of(ServerKind.LLAMA_CPP, text, LLAMA_LAST)
    assert [p.draft for p in pieces] == [False]  # the server does not say which tokens
    assert stats.speculation is SpeculationReport.COUNTS
    assert (stats.total_draft_tokens_count, stats.accepted_draft_tokens_count) == (44, 37)
    assert stats.rejected_draft_tokens_count == 7
    assert stats.acceptance_rate == pytest.approx(37 / 44)
    assert stats.rounds == []
    assert stats.draft_model == own_draft(ServerKind.LLAMA_CPP)
    assert report.stop_reason() is StopReason.MAX_TOKENS


def test_llama_server_without_a_draft_reports_no_speculation():
    last = {**LLAMA_LAST, "timings": {"prompt_n": 13, "predicted_n": 48}}
    _, stats, _ = report_of(ServerKind.LLAMA_CPP, last)
    assert stats.speculation is SpeculationReport.NONE
    assert stats.draft_model is None


def test_vllm_detailed_metrics_give_every_round_and_the_chart():
    last = {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 11}}
    last["metrics"] = {"speculative_decoding": VLLM_DETAILED}
    report, stats, _ = report_of(ServerKind.VLLM, last)
    assert stats.speculation is SpeculationReport.ROUNDS
    assert stats.rounds == [[3, 3], [3, 0], [3, 3], [3, 1]]
    assert (stats.total_draft_tokens_count, stats.accepted_draft_tokens_count) == (12, 7)
    assert stats.verify_steps == 4
    assert stats.acceptance_by_position() == [0.75, 0.5, 0.5]
    assert report.completion_tokens == 11


def test_vllm_summary_metrics_give_the_counts():
    summary = {k: v for k, v in VLLM_DETAILED.items() if not k.startswith("per_step")}
    _, stats, _ = report_of(ServerKind.VLLM, {"metrics": {"speculative_decoding": summary}})
    assert stats.speculation is SpeculationReport.COUNTS
    assert stats.rounds == []
    assert (stats.total_draft_tokens_count, stats.accepted_draft_tokens_count) == (12, 7)


def test_sglang_spec_tokens_details_give_counts_and_verify_steps():
    details = {
        "spec_accept_rate": 0.8,
        "spec_accept_length": 5.0,
        "spec_num_correct_drafts": 8,
        "spec_num_proposed_drafts": 10,
        "spec_verify_ct": 2,
        "spec_correct_drafts_histogram": [0, 0, 0, 0, 2],
    }
    last = {"choices": [], "usage": {"completion_tokens": 10}, "sglext": {"spec_tokens_details": details}}
    _, stats, _ = report_of(ServerKind.SGLANG, last)
    stats.predicted_tokens_count = 10
    assert stats.speculation is SpeculationReport.COUNTS
    assert (stats.total_draft_tokens_count, stats.accepted_draft_tokens_count) == (10, 8)
    assert stats.verify_steps == 2
    assert stats.mean_tokens_per_step == 5.0


def test_sglang_meta_info_of_the_native_api_is_read_too():
    meta = {
        "meta_info": {
            "id": "x",
            "spec_verify_ct": 3,
            "spec_num_correct_drafts": 9,
            "spec_num_proposed_drafts": 24,
        }
    }
    _, stats, _ = report_of(ServerKind.SGLANG, meta)
    assert (stats.total_draft_tokens_count, stats.accepted_draft_tokens_count, stats.verify_steps) == (
        24,
        9,
        3,
    )


def test_specula_flags_colour_tokens_and_its_stats_are_taken_whole():
    draft = {"choices": [{"index": 0, "delta": {"content": " blue"}, "draft": True}]}
    main = {"choices": [{"index": 0, "delta": {"content": " red"}}]}
    stats_chunk = {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "stats": {
            "stop_reason": "stop_string",
            "draft_model": "gemma-3-270m-q4_k_m.gguf",
            "total_draft_tokens_count": 9,
            "accepted_draft_tokens_count": 5,
            "rejected_draft_tokens_count": 3,
            "ignored_draft_tokens_count": 1,
            "accepted_after_stop_count": 1,
            "verify_steps": 3,
            "rounds": [[4, 3], [0, 0], [4, 2]],
        },
    }
    report, stats, pieces = report_of(ServerKind.SPECULA, main, draft, stats_chunk)
    assert [p.draft for p in pieces] == [False, True]
    assert stats.speculation is SpeculationReport.TOKENS
    assert stats.rounds == [[4, 3], [0, 0], [4, 2]]
    counts = (
        stats.total_draft_tokens_count,
        stats.accepted_draft_tokens_count,
        stats.rejected_draft_tokens_count,
        stats.ignored_draft_tokens_count,
    )
    assert counts == (9, 5, 3, 1)
    assert stats.accepted_after_stop_count == 1
    assert report.stop_reason() is StopReason.STOP_STRING


def test_a_specula_without_rounds_in_its_stats_keeps_its_counts():
    chunk = {"stats": {"draft_model": "d", "total_draft_tokens_count": 4, "accepted_draft_tokens_count": 4}}
    _, stats, _ = report_of(ServerKind.SPECULA, chunk)
    assert (stats.total_draft_tokens_count, stats.accepted_draft_tokens_count, stats.rounds) == (4, 4, [])


def test_a_plain_openai_server_reports_no_speculation():
    report, stats, pieces = report_of(
        ServerKind.OPENAI,
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"index": 0, "delta": {"content": "Hello"}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    assert [p.text for p in pieces] == ["Hello"]  # an empty role chunk is no token
    assert stats.speculation is SpeculationReport.NONE
    assert stats.draft_model is None
    assert report.stop_reason() is StopReason.EOS


def test_an_error_chunk_is_the_replys_error_in_the_servers_words():
    report, _, _ = report_of(
        ServerKind.OPENAI, {"error": {"message": "context length exceeded", "code": 400}}
    )
    assert report.error == "context length exceeded"
    assert report.stop_reason() is StopReason.ERROR


@pytest.mark.parametrize(
    "metrics",
    [
        {"num_draft_tokens": "12"},  # not a count
        {"per_step_drafted": [3, 3], "per_step_accepted": [1]},  # lists that do not pair up
        {"per_step_drafted": [3, -1], "per_step_accepted": [1, 0]},  # a negative count
    ],
)
def test_malformed_metrics_never_make_up_counts(metrics):
    _, stats, _ = report_of(ServerKind.VLLM, {"metrics": {"speculative_decoding": metrics}})
    assert stats.rounds == []
    assert stats.total_draft_tokens_count == stats.accepted_draft_tokens_count == 0
