"""Decode timing shared by the draft advisor and the benchmarks: the same measure for every
contender, in one run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from app.core.events import GenerationResult, TokenEvent
from app.core.request import GenerationRequest


@dataclass
class DecodeTiming:
    tokens_per_second: float  # tokens after the first, over the time after the first arrived
    tokens: int
    result: GenerationResult | None


def measure_decode(main: Any, request: GenerationRequest, draft: object | None = None) -> DecodeTiming:
    """Run one generation from an empty cache and time its decoding, prompt reading excluded.
    `main` is a loaded model the caller has to itself (a runtime lease's, or its own)."""
    main.truncate(0)
    t_first: float | None = None
    count = 0
    result: GenerationResult | None = None
    for item in main.generate(request, draft=draft):
        if isinstance(item, TokenEvent):
            t_first = t_first or time.perf_counter()
            count += 1
        elif isinstance(item, GenerationResult):
            result = item
    t_end = time.perf_counter()
    tps = (count - 1) / (t_end - t_first) if t_first and count > 1 and t_end > t_first else 0.0
    return DecodeTiming(tps, count, result)
