"""One reply's side of Auto (app/engines/auto_draft.py): the rule started from what earlier
replies of the same pair and settings taught (app/engines/speculation_memory.py), the reply's
rounds taught in the unit of its own plain step (app/engines/reply_clock.py) once that step is
measured, the note for the user, and the memory written once, after the reply is out."""

from __future__ import annotations

import logging
from dataclasses import replace

from app.core.events import GenerationStats
from app.core.request import GenerationRequest
from app.engines.auto_draft import AutoDraft, RoundTiming
from app.engines.drafting import DraftSource, HeldBack
from app.engines.reply_clock import ReplyClock
from app.engines.sampling import TokenDistribution
from app.engines.speculation_memory import SpeculationMemory

log = logging.getLogger(__name__)


def settings_key(request: GenerationRequest) -> str:
    """What acceptance depends on besides the two models (the seed does not count)."""
    s, d = request.sampling, request.draft
    return (
        f"T{s.temperature:g} k{s.top_k} p{s.top_p:g} m{s.min_p:g} r{s.repeat_penalty:g}/{s.repeat_last_n}"
        f" max{d.max_draft_size} min{d.min_draft_size}"
    )


class AutoReply:
    """Auto for one reply: `rule` decides; `round` hands it what each round measured."""

    def __init__(
        self, draft: DraftSource, request: GenerationRequest, main_id: str | None, memory: SpeculationMemory
    ) -> None:
        self.memory = memory
        self.key: str | None = None
        if main_id is not None:
            self.key = SpeculationMemory.pair_key(main_id, draft.identity, settings_key(request))
        self.rule = AutoDraft(
            costly=draft.capabilities.can_pause,
            state=memory.learned(self.key),
            lookup_too=draft.capabilities.free_part,
            sampled=request.sampling.temperature > 0,
        )
        self._untaught: list[RoundTiming] = []  # rounds timed before the plain step was measured

    def round(self, timing: RoundTiming, clock: ReplyClock) -> None:
        """A round's measurements, `plain_step` left for the clock to fill."""
        self._untaught.append(timing)
        if clock.measured:
            self._teach(clock)

    def _teach(self, clock: ReplyClock) -> None:
        """Auto learns each round in the unit of the reply's plain step, once a round besides
        the prompt's last token has measured it (that step alone can be the slow first after
        loading: every cost learned in it would read a fraction of the truth)."""
        unit = clock.plain_step
        if unit:
            for timing in self._untaught:
                self.rule.observe(replace(timing, plain_step=unit, plain_steps=len(clock.plain)))
        self._untaught.clear()

    @staticmethod
    def held_back_check(held: HeldBack, own: int, last_row: TokenDistribution | None) -> tuple[float, float]:
        """(confidence, chance it would have been accepted) for the draft's refused token,
        every sent one accepted: greedy, whether the main model's own token is it; sampled,
        the overlap of the two distributions at that position (its expected acceptance)."""
        if held.token >= 0 or held.dist is None or last_row is None:
            return held.confidence, float(held.token == own)
        return held.confidence, last_row.overlap(held.dist, -1)

    def conclude(self, stats: GenerationStats, clock: ReplyClock) -> None:
        """Whether and why Auto paused the draft, into the stats (a reply too short to
        measure a round teaches what it has first)."""
        self._teach(clock)
        stats.draft_lost = bool(self.rule.verdict)
        note = self.rule.note()
        if note and not stats.draft_note:
            stats.draft_note = note

    def remember(self) -> None:
        """Auto's memory, written once, after the reply is out."""
        try:
            self.memory.record_learned(self.key, self.rule.state())
        except Exception:  # learning is a bonus; a reply must never fail for it
            log.exception("could not record what this reply learned")
