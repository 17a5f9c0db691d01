"""Running a generation to the end in tests."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.events import GenerationResult, TokenEvent, TokenOrigin
from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import DraftSource

GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)


@dataclass
class Run:
    events: list[TokenEvent]
    result: GenerationResult

    @property
    def text(self) -> str:
        return self.result.text

    @property
    def stats(self):
        return self.result.stats


def run(model, request: GenerationRequest, draft: DraftSource | None = None, cancel=None) -> Run:
    events: list[TokenEvent] = []
    result = None
    for item in model.generate(request, draft=draft, cancel=cancel):
        if isinstance(item, TokenEvent):
            events.append(item)
        elif isinstance(item, GenerationResult):
            result = item
    assert isinstance(result, GenerationResult)
    return Run(events, result)


def raw(
    prompt: str, max_tokens: int = 40, sampling: SamplingSettings = GREEDY, **draft: object
) -> GenerationRequest:
    draft.setdefault("auto", False)  # fixed draft lengths unless a test asks for Auto (the app's default)
    return GenerationRequest(
        prompt=prompt, max_tokens=max_tokens, sampling=sampling, draft=DraftSettings(**draft)
    )  # type: ignore[arg-type]


def assert_invariants(r: Run) -> None:
    """The counts agree with each other, with the rounds and with the tokens, by construction."""
    s = r.stats
    assert s.total_draft_tokens_count == (
        s.accepted_draft_tokens_count + s.rejected_draft_tokens_count + s.ignored_draft_tokens_count
    )
    assert s.accepted_draft_tokens_count == sum(accepted for _, accepted in s.rounds)
    assert s.rejected_draft_tokens_count == sum(sent - accepted for sent, accepted in s.rounds)
    assert 0 <= s.accepted_after_stop_count <= s.accepted_draft_tokens_count
    assert sum(e.origin is TokenOrigin.DRAFT for e in r.events) == s.draft_tokens_in_reply
    assert s.predicted_tokens_count == sum(e.token_id >= 0 for e in r.events)
    assert "".join(e.text for e in r.events) == r.text
    assert (
        min(s.accepted_draft_tokens_count, s.rejected_draft_tokens_count, s.ignored_draft_tokens_count) >= 0
    )
