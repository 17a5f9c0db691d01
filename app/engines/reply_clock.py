"""A reply's own no-draft speed, measured under the same conditions as the reply.

"x times faster than without a draft" compares two speeds; on a machine whose load changes
(other programs, a laptop's power states) a no-draft speed measured at another time says
nothing about this reply. So every reply with a draft measures it within itself: the main
model's single-token steps, timed as whole rounds (decode, sampling, emitting: what a plain
reply spends per token). The step that reads the prompt's last token is one; any round that ran
no draft model and sent nothing is one (Auto's plain rounds, a prompt lookup that found
nothing); and when a reply has too few, the loop makes a round plain to measure (the first
after one drafting round, and one now and then in a long reply as the conditions may change).
Their mean is the baseline (as a reply's speed is its tokens over its time: a round another
program preempted counts in both), leaving out any step far slower than the typical one: the
first step after a model is loaded pays for reading its weights from disk, and a program that
takes the CPU for a second can land on one of a reply's few plain steps; a baseline that
counted them would flatter every draft, and teach Auto costs far too low. When to measure
depends on the rounds only, never on the times measured: a seeded reply drafts the same rounds,
so it writes the same text.

Auto reads the same measurement: what it learns is relative to this plain step, so it holds
whatever the machine's load when it is used again. It learns from a round only once a round
besides the prompt's last token has been measured.
"""

from __future__ import annotations

import statistics

MIN_PLAIN = 2  # single-token steps a reply with a draft measures (the prompt's last token is one)
REMEASURE = 64  # rounds between measuring rounds in a long reply
SLOW = 1.5  # a step this many times the typical one (the lower median) is left out


class ReplyClock:
    """The single-token steps a reply measured, and when to measure another."""

    def __init__(self) -> None:
        self.plain: list[float] = []  # seconds per single-token round, in order
        self._since = 0  # rounds since the last single-token round
        self._step: float | None = None
        self.counted: list[float] = []  # the steps the baseline is the mean of (slow ones left out)

    def record(self, seconds: float, plain: bool) -> None:
        """One round ended (the first: the step that read the prompt's last token)."""
        if plain:
            self.plain.append(seconds)
            self._since = 0
            typical = statistics.median_low(self.plain)  # once per step, not per reading
            self.counted = [s for s in self.plain if s <= SLOW * typical]
            self._step = statistics.fmean(self.counted)
        else:
            self._since += 1

    def wants_plain(self) -> bool:
        """Whether the next round should be a plain one, to measure."""
        return self._since >= (1 if len(self.plain) < MIN_PLAIN else REMEASURE)

    @property
    def measured(self) -> bool:
        """Whether a round has been measured besides the prompt's last token (alone, that one
        step may be the slow first after loading)."""
        return len(self.plain) >= MIN_PLAIN

    @property
    def plain_step(self) -> float | None:
        """Seconds per token without a draft, here and now: the mean single-token round."""
        return self._step

    @property
    def plain_tokens_per_second(self) -> float | None:
        step = self.plain_step
        return 1.0 / step if step else None
