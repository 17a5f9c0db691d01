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
FRESH_SHARE = 16  # the loop's reading may miss up to 1/16 of the steps (a sort per step is quadratic)


class ReplyClock:
    """The single-token steps a reply measured, and when to measure another."""

    def __init__(self) -> None:
        self.plain: list[float] = []  # seconds per single-token round, in order
        self._since = 0  # rounds since the last single-token round
        self._step: float | None = None
        self._counted: list[float] = []
        self._pending = 0  # steps recorded since the baseline was computed

    def record(self, seconds: float, plain: bool) -> None:
        """One round ended (the first: the step that read the prompt's last token)."""
        if plain:
            self.plain.append(seconds)
            self._since = 0
            self._pending += 1
        else:
            self._since += 1

    def _refresh(self, exact: bool) -> None:
        """The baseline from the steps so far. While the reply runs it is recomputed once a
        sixteenth more steps came in (a plain reply of n tokens would sort its steps n times);
        the reply's own figure is exact."""
        if not self._pending or (not exact and self._pending < len(self.plain) // FRESH_SHARE):
            return
        typical = statistics.median_low(self.plain)
        self._counted = [s for s in self.plain if s <= SLOW * typical]
        self._step = statistics.fmean(self._counted)
        self._pending = 0

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
        """Seconds per token without a draft, here and now: the mean single-token round (as
        the loop reads it: missing at most a sixteenth of the latest steps)."""
        self._refresh(exact=False)
        return self._step

    @property
    def counted(self) -> list[float]:
        """The steps the reply's baseline is the mean of (slow ones left out)."""
        self._refresh(exact=True)
        return self._counted

    @property
    def plain_tokens_per_second(self) -> float | None:
        """The reply's baseline: every step it measured."""
        self._refresh(exact=True)
        return 1.0 / self._step if self._step else None
