"""What a server's streamed reply says besides its text, read chunk by chunk, and how much of
its speculation that tells (GenerationStats.speculation):

- another Specula: a `draft` flag on every token it drafted and its main model accepted, and
  `stats` (counts, rounds, verify steps) in the finishing chunk: everything, as here;
- llama-server started with a draft (-md): `timings.draft_n` and `draft_n_accepted` in the
  last chunk: how many draft tokens it sent and accepted, not which;
- vLLM with --per-request-spec-decode-metrics: `metrics.speculative_decoding` in the last
  chunk: the counts, and with `detailed` every step's drafted and accepted tokens (rounds);
- SGLang (`return_spec_tokens_details`): `sglext.spec_tokens_details`, or `meta_info.spec_*`:
  proposed and accepted draft tokens and verify steps;
- anything else: nothing about speculation.

Pure functions over the JSON the server sent, so each mapping is tested on recorded and
constructed replies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.core.events import GenerationStats, SpeculationReport, StopReason
from app.library.server_listing import ServerKind

FINISH_REASONS = {
    "stop": StopReason.EOS,
    "eos": StopReason.EOS,
    "length": StopReason.MAX_TOKENS,
    "abort": StopReason.CANCELLED,
    "cancelled": StopReason.CANCELLED,
}
SGLANG_PREFIX = "spec_"


@dataclass(frozen=True)
class Piece:
    """Text a chunk carried, and whether the server says its draft proposed it."""

    text: str
    draft: bool = False


def own_draft(kind: ServerKind) -> str:
    """How a draft the server chose itself is named in a reply's stats."""
    return f"{kind.label}'s own draft"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _counts(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    counts = [_count(v) for v in value]
    return None if any(c is None for c in counts) else [c for c in counts if c is not None]


@dataclass
class ReplyReport:
    """Everything a streamed reply carried besides its text, kept as the chunks arrive."""

    kind: ServerKind
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    specula_stats: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    vllm: dict[str, Any] | None = None
    sglang: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def read(self, chunk: Any) -> list[Piece]:
        """One chunk (a parsed `data:` line): its text pieces; what else it says is kept."""
        if not isinstance(chunk, dict):
            return []
        self._keep(chunk)
        pieces: list[Piece] = []
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict):
                continue
            delta = choice.get("delta")
            text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
            if isinstance(text, str) and text:
                pieces.append(Piece(text, choice.get("draft") is True))
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
            self._keep(choice)  # some servers put their details on the choice
        return pieces

    def _keep(self, part: dict[str, Any]) -> None:
        error = part.get("error")
        if isinstance(error, dict):
            self.error = str(error.get("message") or error)
        elif isinstance(error, str) and error:
            self.error = error
        if isinstance(part.get("usage"), dict):
            self.usage = part["usage"]
        if isinstance(part.get("stats"), dict):
            self.specula_stats = part["stats"]
        if isinstance(part.get("timings"), dict):
            self.timings = part["timings"]
        metrics = part.get("metrics")
        if isinstance(metrics, dict) and isinstance(metrics.get("speculative_decoding"), dict):
            self.vllm = metrics["speculative_decoding"]
        ext = part.get("sglext")
        if isinstance(ext, dict) and isinstance(ext.get("spec_tokens_details"), dict):
            self.sglang.update(ext["spec_tokens_details"])
        meta = part.get("meta_info")
        if isinstance(meta, dict):
            self.sglang.update({k: v for k, v in meta.items() if k.startswith(SGLANG_PREFIX)})

    # --- what it adds up to ---------------------------------------------------------------
    @property
    def completion_tokens(self) -> int | None:
        return _count((self.usage or {}).get("completion_tokens"))

    @property
    def prompt_tokens(self) -> int | None:
        return _count((self.usage or {}).get("prompt_tokens"))

    def stop_reason(self) -> StopReason:
        if self.specula_stats is not None:
            try:
                return StopReason(self.specula_stats.get("stop_reason"))
            except ValueError:
                pass
        if self.error:
            return StopReason.ERROR
        return FINISH_REASONS.get(self.finish_reason or "", StopReason.EOS)

    def apply(self, stats: GenerationStats) -> None:
        """Put what the server reported of its speculation into `stats` (counts, rounds, the
        draft's name, how much it reported), by what the reply carried."""
        if self.specula_stats is not None:
            _from_specula(stats, self.specula_stats)
        elif self.vllm is not None:
            _from_vllm(stats, self.vllm, self.kind)
        elif any(_count(self.sglang.get(k)) is not None for k in SGLANG_COUNTS):
            _from_sglang(stats, self.sglang, self.kind)
        elif self.timings is not None and _count(self.timings.get("draft_n")) is not None:
            _from_llama(stats, self.timings, self.kind)
        else:
            stats.speculation = SpeculationReport.NONE


SGLANG_COUNTS = ("spec_num_proposed_drafts", "spec_num_correct_drafts", "spec_verify_ct")


def _from_specula(stats: GenerationStats, data: dict[str, Any]) -> None:
    """Another Specula's stats are ours: the same names (GenerationStats.to_dict)."""
    theirs = GenerationStats.from_dict(data)
    stats.draft_model = theirs.draft_model
    stats.verify_steps = theirs.verify_steps
    stats.draft_note = theirs.draft_note
    stats.accepted_after_stop_count = theirs.accepted_after_stop_count
    stats.speculation = SpeculationReport.TOKENS
    sent = theirs.accepted_draft_tokens_count + theirs.rejected_draft_tokens_count
    if theirs.rounds and sum(r[0] for r in theirs.rounds) == sent:
        for drafted, accepted in theirs.rounds:
            stats.add_round(drafted, accepted)
        stats.ignored_draft_tokens_count = theirs.ignored_draft_tokens_count
        stats.total_draft_tokens_count += theirs.ignored_draft_tokens_count
        return
    stats.total_draft_tokens_count = theirs.total_draft_tokens_count
    stats.accepted_draft_tokens_count = theirs.accepted_draft_tokens_count
    stats.rejected_draft_tokens_count = theirs.rejected_draft_tokens_count
    stats.ignored_draft_tokens_count = theirs.ignored_draft_tokens_count


def _from_vllm(stats: GenerationStats, m: dict[str, Any], kind: ServerKind) -> None:
    """vLLM's per-request metrics: every step's drafted and accepted tokens when `detailed`
    (rounds: the chart), else the totals."""
    stats.draft_model = own_draft(kind)
    stats.verify_steps = _count(m.get("num_spec_steps")) or 0
    drafted, accepted = _counts(m.get("per_step_drafted")), _counts(m.get("per_step_accepted"))
    if drafted is not None and accepted is not None and len(drafted) == len(accepted):
        for sent, kept in zip(drafted, accepted, strict=True):
            stats.add_round(sent, min(kept, sent))
        stats.speculation = SpeculationReport.ROUNDS
        return
    sent = _count(m.get("num_draft_tokens")) or 0
    kept = min(_count(m.get("num_accepted_draft_tokens")) or 0, sent)
    stats.total_draft_tokens_count = sent
    stats.accepted_draft_tokens_count = kept
    stats.rejected_draft_tokens_count = sent - kept
    stats.speculation = SpeculationReport.COUNTS


def _from_sglang(stats: GenerationStats, d: dict[str, Any], kind: ServerKind) -> None:
    """SGLang's spec details: proposed and correct draft tokens, verify steps."""
    stats.draft_model = own_draft(kind)
    stats.verify_steps = _count(d.get("spec_verify_ct")) or 0
    sent = _count(d.get("spec_num_proposed_drafts"))
    kept = _count(d.get("spec_num_correct_drafts"))
    if sent is not None:
        kept = min(kept or 0, sent)
        stats.total_draft_tokens_count = sent
        stats.accepted_draft_tokens_count = kept
        stats.rejected_draft_tokens_count = sent - kept
    stats.speculation = SpeculationReport.COUNTS


def _from_llama(stats: GenerationStats, t: dict[str, Any], kind: ServerKind) -> None:
    """llama-server's timings: draft tokens sent and accepted, in all."""
    sent = _count(t.get("draft_n")) or 0
    kept = min(_count(t.get("draft_n_accepted")) or 0, sent)
    stats.draft_model = own_draft(kind)
    stats.total_draft_tokens_count = sent
    stats.accepted_draft_tokens_count = kept
    stats.rejected_draft_tokens_count = sent - kept
    stats.speculation = SpeculationReport.COUNTS
