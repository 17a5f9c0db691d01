"""The MLX model's two paths through the loop, for tests that compare them: on the device
(greedy tokens found where the logits are, batches queued ahead: app/engines/device_greedy.py,
app/engines/mlx_queue.py) and the general path (the numpy sampler reading every row), which the
loop takes when the model does not offer the shortcut (the methods removed from the class)."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from app.core.events import GenerationResult
from app.core.request import GenerationRequest
from app.engines.drafting import ModelDraft
from app.engines.mlx import MLXModel
from app.engines.speculation_memory import SpeculationMemory
from app.engines.speculative import run_generation


class GeneralPathMLX(MLXModel):
    """An MLX model that does not offer the shortcut (the loop checks for it as a protocol)."""

    greedy_rows = None  # type: ignore[assignment]
    greedy_run = None  # type: ignore[assignment]


@contextlib.contextmanager
def general_path(*models: MLXModel | None) -> Iterator[None]:
    """Inside it, these models take the general path."""
    real = [m for m in models if m is not None]
    for m in real:
        m.__class__ = GeneralPathMLX
    try:
        yield
    finally:
        for m in real:
            m.__class__ = MLXModel


def stream(
    main: MLXModel,
    draft: MLXModel | None,
    request: GenerationRequest,
    memory: SpeculationMemory,
    cancel_after: int | None = None,
    *,
    fresh: bool = True,
    close_after: int | None = None,
) -> list[Any]:
    """Everything a reply streams (its stats without their clock readings), from empty caches
    unless not `fresh` (then from what the last reply left in them). `cancel_after` tokens the
    reply is cancelled; `close_after` tokens the consumer stops reading it."""
    if fresh:
        main.truncate(0)
        if draft is not None:
            draft.truncate(0)
    cancel = threading.Event()
    tokens = main.prompt_tokens(request)
    out: list[Any] = []
    source = ModelDraft(draft) if draft is not None else None
    replies = run_generation(main, source, tokens, request, cancel, memory=memory)
    for item in replies:
        if isinstance(item, GenerationResult):
            s = item.stats
            # Auto's note quotes the speed it measured: a clock reading
            note = re.sub(r"\d+\.\d+x", "(measured)x", s.draft_note) if s.draft_note else None
            out.append((item.text, item.error, s.stop_reason, s.predicted_tokens_count, note))
            out.append((s.total_draft_tokens_count, s.accepted_draft_tokens_count))
            out.append((s.rejected_draft_tokens_count, s.ignored_draft_tokens_count))
            out.append((s.accepted_after_stop_count, s.verify_steps, s.rounds, s.draft_lost))
        else:
            out.append(item)
        told = sum(hasattr(i, "token_id") for i in out)
        if cancel_after is not None and told >= cancel_after:
            cancel.set()
        if close_after is not None and told >= close_after:
            replies.close()
            break
    return out


def both_paths(
    tmp_path: Path,
    main: MLXModel,
    draft: MLXModel | None,
    request: GenerationRequest,
    cancel_after: int | None = None,
) -> tuple[list[Any], list[Any]]:
    """(on the device, general): each reply with a fresh memory for Auto."""
    fast = stream(main, draft, request, SpeculationMemory(tmp_path / "fast.json"), cancel_after)
    with general_path(main, draft):
        slow = stream(main, draft, request, SpeculationMemory(tmp_path / "slow.json"), cancel_after)
    return fast, slow
