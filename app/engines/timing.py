"""Decode timing shared by the draft advisor and the benchmarks: the same measure for every
contender, in one run, read from the reply's own stats (one definition of speed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from app.core.events import GenerationResult, StreamItem
from app.core.request import GenerationRequest
from app.engines.drafting import DraftSource
from app.engines.prompt_reading import CancelFlag


class Generating(Protocol):
    def truncate(self, n: int) -> None: ...
    def generate(
        self, request: GenerationRequest, draft: DraftSource | None = None, cancel: CancelFlag | None = None
    ) -> Iterator[StreamItem]: ...


@dataclass
class DecodeTiming:
    tokens_per_second: float  # GenerationStats.tokens_per_second (decode_rate): prompt reading excluded
    tokens: int
    result: GenerationResult | None


def measure_decode(
    main: Generating,
    request: GenerationRequest,
    draft: DraftSource | None = None,
    cancel: CancelFlag | None = None,
) -> DecodeTiming:
    """Run one generation from an empty cache and time its decoding, prompt reading excluded.
    `main` is a loaded model the caller has to itself (a runtime lease's, or its own);
    `cancel` ends it within a step (its timing then means nothing)."""
    main.truncate(0)
    result: GenerationResult | None = None
    for item in main.generate(request, draft=draft, cancel=cancel):
        if isinstance(item, GenerationResult):
            result = item
    if result is None:
        return DecodeTiming(0.0, 0, None)
    return DecodeTiming(result.stats.tokens_per_second, result.stats.predicted_tokens_count, result)
