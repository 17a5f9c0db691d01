"""What one verify step did, reported to an observer of the loop (the benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RoundReport:
    """`examined` drafted tokens were checked by the main model (the accepted ones and the
    first refused one); `overlap` sums, over those, sum_x min(p(x), q(x)): the acceptance
    speculative sampling should achieve."""

    round: int
    drafted: int
    accepted: int
    examined: int
    overlap: float
    draft_seconds: float
    verify_seconds: float


class RoundObserver(Protocol):
    def __call__(self, report: RoundReport) -> None: ...
