"""What a generation streams: token events tagged by origin, then one final result.

Streaming is a plain iterator of these small dataclasses; a consumer that stops iterating
(or closes the iterator) stops the generation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any


class TokenOrigin(str, Enum):
    MAIN = "main"  # produced by the main model
    DRAFT = "draft"  # proposed by the draft and accepted by the main model


class SpeculationReport(str, Enum):
    """How much of a reply's speculation its engine could see. Our engines (and another Specula
    serving the model) know every token's origin and every round; a server reached over HTTP
    may report only its rounds, only how many draft tokens it accepted, or nothing at all. The
    views say so rather than colour or chart what was not reported."""

    TOKENS = "tokens"  # which tokens came from the draft, every round, the counts
    ROUNDS = "rounds"  # every round and the counts, not which tokens
    COUNTS = "counts"  # how many draft tokens were sent and accepted, nothing per round
    NONE = "none"  # the server reports no speculation


class StopReason(str, Enum):
    EOS = "eos"
    MAX_TOKENS = "max_tokens"
    CONTEXT_FULL = "context_full"  # every position of the loaded context holds a token
    STOP_STRING = "stop_string"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """One generated token. `text` is the complete characters this token finishes: it can be
    empty when the token holds only part of a multi-byte character. `round` is the verify step
    whose logits chose it (0: the prompt's), so a view can say which round a token came from."""

    token_id: int
    text: str
    origin: TokenOrigin
    round: int = 0


@dataclass(frozen=True, slots=True)
class DraftRejected:
    """What the draft proposed in one round from the first token the main model disagreed
    with. It comes after that round's accepted tokens and before the main model's own token,
    so a view can show the lost proposal as ghost text exactly where it was refused."""

    round: int
    token_ids: tuple[int, ...]
    text: str


@dataclass(frozen=True, slots=True)
class RoundEvent:
    """After each verify step of a reply with a draft: what drafting did, for live stats.
    `drafted` tokens were sent to the main model, which accepted `accepted` of them (counted
    at verification, like GenerationStats); `ignored` were proposed and never sent (shorter
    than Min Draft Size). `draft_length` is the length asked of the draft this round;
    `paused` says why nothing was drafted (empty when it was)."""

    round: int
    drafted: int
    accepted: int
    draft_length: int
    paused: str = ""
    ignored: int = 0


def decode_rate(tokens: int, seconds: float) -> float:
    """Tokens per second: the tokens after the first over the time from the first to the
    last. The first token comes out of reading the prompt, so it is the prompt's, not
    decoding's. The one definition of a reply's speed (engine, live strip, benchmarks)."""
    return (tokens - 1) / seconds if tokens > 1 and seconds > 0 else 0.0


@dataclass
class GenerationStats:
    """Honest numbers for one reply: the only owner of what a reply measured. Every figure
    shown (stats text, chart, live strip, API, Auto's memory) is read from here.

    Draft tokens are counted when the main model verifies them; total = accepted + rejected
    + ignored always holds:
    - accepted: drafted tokens the main model accepted;
    - rejected: drafted tokens sent to the main model and refused;
    - ignored: drafted tokens never sent (drafts shorter than Min Draft Size).
    `accepted_after_stop_count` (of the accepted) the reply does not show because it ended
    first: the end-of-generation token itself, a stop string's tokens and what followed.
    `rounds` holds [sent, accepted] per verify step of a reply with a draft: its sums are the
    accepted and rejected counts (add_round keeps them together).
    """

    tokens_per_second: float = 0.0  # decode_rate(predicted tokens, generation_time)
    time_to_first_token: float = 0.0  # from the request to the first token (prompt reading)
    generation_time: float = 0.0  # from the first token to the last
    stop_reason: StopReason = StopReason.EOS
    prompt_tokens_count: int = 0
    predicted_tokens_count: int = 0
    draft_model: str | None = None
    total_draft_tokens_count: int = 0
    accepted_draft_tokens_count: int = 0
    rejected_draft_tokens_count: int = 0
    ignored_draft_tokens_count: int = 0
    accepted_after_stop_count: int = 0
    verify_steps: int = 0  # main-model decode calls after the prompt (a plain step counts too)
    rounds: list[list[int]] = field(default_factory=list)  # [sent, accepted] per round, with a draft
    draft_note: str | None = None  # why drafting stopped or never started, when it did (shown to the user)
    # The no-draft speed measured *within this reply*, under its conditions: the main model's
    # own single-token steps in it (app/engines/reply_clock.py), `baseline_steps` of them;
    # None: not measured (never a figure from another reply). "x vs no draft" is `speedup`.
    baseline_tokens_per_second: float | None = None
    speculation: SpeculationReport = SpeculationReport.TOKENS  # how much of it was reported
    # The context (app/engines/context_fit.py): its size, and the earlier turns the model could
    # not see (whole messages dropped by the Context Overflow policy, the last time it read
    # the conversation): `truncated_turns` of them from `truncated_from`, counted among the
    # request's messages other than system ones. `prompt_tokens_count` is the prompt read then.
    context_length: int = 0
    truncated_turns: int = 0
    truncated_from: int = 0
    baseline_steps: int = 0
    draft_lost: bool = False  # Auto paused the draft in this reply: its rounds were slower

    # --- counting (the loop and the live strip fold rounds the same way) ---------------------
    def add_round(self, sent: int, accepted: int, ignored: int = 0) -> None:
        """One verify step of a reply with a draft."""
        self.rounds.append([sent, accepted])
        self.total_draft_tokens_count += sent + ignored
        self.accepted_draft_tokens_count += accepted
        self.rejected_draft_tokens_count += sent - accepted
        self.ignored_draft_tokens_count += ignored

    def add_round_event(self, event: RoundEvent) -> None:
        self.add_round(event.drafted, event.accepted, event.ignored)
        self.verify_steps = max(self.verify_steps, event.round)

    def set_speed(self, generation_time: float) -> None:
        self.generation_time = generation_time
        self.tokens_per_second = decode_rate(self.predicted_tokens_count, generation_time)

    # --- derived figures (computed here only) --------------------------------------------------
    @property
    def acceptance_rate(self) -> float | None:
        """accepted / (accepted + rejected); ignored tokens were never asked about."""
        sent = self.accepted_draft_tokens_count + self.rejected_draft_tokens_count
        return self.accepted_draft_tokens_count / sent if sent else None

    @property
    def draft_tokens_in_reply(self) -> int:
        """Reply tokens that came from the draft (accepted, before the reply stopped)."""
        return self.accepted_draft_tokens_count - self.accepted_after_stop_count

    @property
    def mean_tokens_per_step(self) -> float | None:
        """Tokens emitted per main-model verify step (1.0 is plain decoding)."""
        return self.predicted_tokens_count / self.verify_steps if self.verify_steps else None

    @property
    def decode_tokens_per_step(self) -> float | None:
        """Tokens after the first per verify step: no step makes more, and none costs less
        than a plain one, so no reply can be faster than this many times plain decoding."""
        if not self.verify_steps or self.predicted_tokens_count < 1:
            return None
        return (self.predicted_tokens_count - 1) / self.verify_steps

    @property
    def speedup(self) -> float | None:
        """This reply's speed over its own measured no-draft speed; None when it measured
        none. Never above what its structure allows: its tokens per verify step (at most 1
        when nothing was accepted), and 1 when Auto found the draft slower."""
        base, ceiling = self.baseline_tokens_per_second, self.decode_tokens_per_step
        if not base or not self.tokens_per_second or ceiling is None:
            return None
        if self.draft_lost:
            ceiling = min(ceiling, 1.0)
        return min(self.tokens_per_second / base, ceiling)

    @property
    def drafting_rounds(self) -> tuple[int, int]:
        """(rounds that sent a draft, all rounds) of a reply with a draft."""
        return sum(1 for sent, _ in self.rounds if sent), len(self.rounds)

    def acceptance_by_position(self) -> list[float]:
        """Share of rounds whose draft reached position i (0-based) that had it accepted."""
        reached: list[int] = []
        taken: list[int] = []
        for drafted, accepted in self.rounds:
            while len(reached) < drafted:
                reached.append(0)
                taken.append(0)
            for i in range(drafted):
                reached[i] += 1
                taken[i] += i < accepted
        return [t / r for t, r in zip(taken, reached, strict=True)]

    # --- storage and Continue --------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["stop_reason"] = self.stop_reason.value
        out["speculation"] = self.speculation.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationStats:
        """Stats saved by to_dict (keys it does not know are left out; a value of the wrong
        type takes the default), so a stored reply can be extended."""
        out = cls()
        for f in fields(cls):
            value = data.get(f.name)
            default = getattr(out, f.name)
            if f.name == "stop_reason":
                with contextlib.suppress(ValueError):
                    out.stop_reason = StopReason(value)
            elif f.name == "speculation":
                with contextlib.suppress(ValueError):
                    out.speculation = SpeculationReport(value)
            elif f.name == "rounds":
                if isinstance(value, list) and all(isinstance(r, list) and len(r) == 2 for r in value):
                    with contextlib.suppress(TypeError, ValueError):
                        out.rounds = [[int(d), int(a)] for d, a in value]
            elif isinstance(default, bool):
                if isinstance(value, bool):
                    setattr(out, f.name, value)
            elif isinstance(default, (int, float)):
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    setattr(out, f.name, type(default)(value))
            elif isinstance(value, (str, float, int)) and not isinstance(value, bool):
                setattr(out, f.name, value)
        if not out.baseline_steps:  # saved before baselines were measured within the reply
            out.baseline_tokens_per_second = None
        return out

    def merge(self, later: GenerationStats) -> GenerationStats:
        """One reply generated in parts (Continue): counts and times add up, speed is the
        parts' decoded tokens over their decoding time (each part's rate times its time is
        what it decoded), the first part's time to first token and prompt stay, and the
        latest part says why it stopped and what of the conversation it could see."""
        generation_time = self.generation_time + later.generation_time
        decoded = (
            self.tokens_per_second * self.generation_time + later.tokens_per_second * later.generation_time
        )
        return GenerationStats(
            tokens_per_second=decoded / generation_time if generation_time > 0 else 0.0,
            time_to_first_token=self.time_to_first_token,
            generation_time=generation_time,
            stop_reason=later.stop_reason,
            prompt_tokens_count=self.prompt_tokens_count,
            predicted_tokens_count=self.predicted_tokens_count + later.predicted_tokens_count,
            draft_model=later.draft_model or self.draft_model,
            total_draft_tokens_count=self.total_draft_tokens_count + later.total_draft_tokens_count,
            accepted_draft_tokens_count=self.accepted_draft_tokens_count + later.accepted_draft_tokens_count,
            rejected_draft_tokens_count=self.rejected_draft_tokens_count + later.rejected_draft_tokens_count,
            ignored_draft_tokens_count=self.ignored_draft_tokens_count + later.ignored_draft_tokens_count,
            accepted_after_stop_count=self.accepted_after_stop_count + later.accepted_after_stop_count,
            verify_steps=self.verify_steps + later.verify_steps,
            rounds=[*self.rounds, *later.rounds],
            draft_note=later.draft_note if later.draft_model else self.draft_note,
            speculation=max(self.speculation, later.speculation, key=_REPORT_ORDER.index),
            context_length=later.context_length or self.context_length,
            truncated_turns=later.truncated_turns,  # what the model saw when it last read the conversation
            truncated_from=later.truncated_from,
            **_merged_baseline(self, later, decoded / generation_time if generation_time > 0 else 0.0),
        )


# the less a part reported, the less the whole reply can claim
_REPORT_ORDER = list(SpeculationReport)


def _merged_baseline(a: GenerationStats, b: GenerationStats, speed: float) -> dict[str, Any]:
    """Each part measured its own no-draft speed: the whole's speed-up is theirs weighted by
    decoding time (what the parts would have taken without a draft), expressed as the
    baseline that gives it. Not measured when a part did not measure it."""
    parts = [s for s in (a, b) if s.generation_time > 0]
    ups = [s.tokens_per_second / s.baseline_tokens_per_second for s in parts if s.baseline_tokens_per_second]
    if not parts or len(ups) < len(parts) or speed <= 0:
        return {
            "baseline_tokens_per_second": None,
            "baseline_steps": 0,
            "draft_lost": a.draft_lost or b.draft_lost,
        }
    weighted = sum(x * s.generation_time for x, s in zip(ups, parts, strict=True))
    speedup = weighted / sum(s.generation_time for s in parts)
    return {
        "baseline_tokens_per_second": speed / speedup if speedup > 0 else None,
        "baseline_steps": a.baseline_steps + b.baseline_steps,
        "draft_lost": a.draft_lost or b.draft_lost,
    }


@dataclass(frozen=True)
class GenerationResult:
    """The last item of a stream: the whole text (stop strings removed) and the stats."""

    text: str
    stats: GenerationStats
    error: str | None = None


# What a generation yields: tokens, rejected proposals and round summaries as they happen,
# then exactly one GenerationResult. Consumers skip the kinds they do not show.
StreamItem = TokenEvent | DraftRejected | RoundEvent | GenerationResult
