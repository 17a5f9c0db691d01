"""Where draft tokens come from.

- ModelDraft: a small model proposes tokens drawn from its own distribution q under the
  reply's sampler settings (its argmax at temperature 0), each with q kept for the main
  model's speculative-sampling check. Its cache is synced lazily, so a round that drafts
  nothing costs nothing; a draft whose context is full says so and drafting stops.
- PromptLookupDraft (app/engines/lookup_draft.py): no second model; proposes what followed
  the latest earlier occurrence of the text's last few tokens (prompt and reply so far). Pays
  off when replies repeat their input: editing code, quoting, summarising. Its proposals are
  deterministic (q is all on the proposed token), which speculative sampling handles exactly.
- ChainedDraft (app/engines/lookup_draft.py, "<draft> + prompt lookup"): prompt lookup first,
  the draft model when lookup has nothing, in one round.

Each is a DraftSource with declared Capabilities, built once per lease by the runtime
(app/engines/compatibility.py checks the pair and translates where the vocabularies differ).
A DraftRule decides, token by token, whether a proposal is worth sending: the fixed
"Drafting Probability Cutoff", or Auto's learned rule (app/engines/auto_draft.py).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.core.errors import ContextOverflowError
from app.engines.device_greedy import DeviceGreedy
from app.engines.prompt_reading import CancelFlag, read_prompt
from app.engines.sampling import TokenDistribution, TokenSampler

PROMPT_LOOKUP_KEY = "prompt-lookup"
PROMPT_LOOKUP_NAME = "Prompt lookup (no draft model)"
CHAINED_SEPARATOR = "+"


def chained_key(draft_key: str) -> str:
    """The draft-spec key of "<draft> + prompt lookup" (settings, dropdowns, the API)."""
    return f"{draft_key}{CHAINED_SEPARATOR}{PROMPT_LOOKUP_KEY}"


def parse_draft_key(spec: str | None) -> tuple[str | None, bool]:
    """(draft model key or None, with prompt lookup) for a draft spec: "", a model key,
    PROMPT_LOOKUP_KEY, or chained_key(model key)."""
    if not spec:
        return None, False
    if spec == PROMPT_LOOKUP_KEY:
        return None, True
    suffix = CHAINED_SEPARATOR + PROMPT_LOOKUP_KEY
    if spec.endswith(suffix) and len(spec) > len(suffix):
        return spec[: -len(suffix)], True
    return spec, False


def chained_name(draft_name: str) -> str:
    return f"{draft_name} + prompt lookup"


class DraftContextFull(ContextOverflowError):
    """The draft model cannot take more tokens: drafting stops, the reply goes on plain."""


class DraftModel(Protocol):
    """A loaded model that drafts: one sequence in its cache (llama.cpp or MLX)."""

    n_ctx: int
    cached: list[int]
    n_batch: int

    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path | None: ...
    @property
    def n_cached(self) -> int: ...
    def prefill(self, tokens: Sequence[int]) -> None: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...
    def truncate(self, n: int) -> None: ...
    def shift_to(self, tokens: Sequence[int]) -> int: ...
    def logits(self, row: int) -> np.ndarray: ...
    def is_eog(self, token: int) -> bool: ...


def free_confidence(clue: int) -> float:
    """What stands for the confidence of a token proposed without a probability (prompt
    lookup, a prediction): NaN when nothing is known of it, else -clue, `clue` (1 and up)
    saying how strong the match behind it is, so Auto learns its acceptance per clue."""
    return -float(clue) if clue > 0 else math.nan


def is_free(confidence: float) -> bool:
    """Whether a token was proposed without a probability (see free_confidence)."""
    return math.isnan(confidence) or confidence < 0


class DraftRule(Protocol):
    """Whether the draft's next token is worth sending to the main model."""

    @property
    def needs_confidence(self) -> bool: ...

    @property
    def model_allowed(self) -> bool:
        """Whether a draft model may run (Auto pauses one that does not pay); proposals that
        cost no model step (prompt lookup, a prediction) are made either way."""
        ...

    def keep(self, position: int, confidence: float, model_step: bool) -> bool:
        """`position` counts from 1 in this round; `confidence` is the draft's top-token
        probability (for prompt lookup, see free_confidence); `model_step`: proposing it
        costs a draft step."""
        ...

    def extend(self, kept: int) -> bool:
        """Whether to run the draft model once more, for the token after the `kept` ones:
        asked before the step, whose price is paid whether or not that token is then kept."""
        ...


class CutoffRule:
    """The fixed Drafting Probability Cutoff: stop when the draft's top token is less likely
    than p_min (prompt lookup has no probabilities and is never cut)."""

    def __init__(self, p_min: float) -> None:
        self.p_min = p_min

    @property
    def needs_confidence(self) -> bool:
        return self.p_min > 0.0

    @property
    def model_allowed(self) -> bool:
        return True

    def keep(self, position: int, confidence: float, model_step: bool) -> bool:  # noqa: ARG002 (the interface's signature)
        return is_free(confidence) or confidence >= self.p_min

    def extend(self, kept: int) -> bool:  # noqa: ARG002 (the interface's signature)
        return True


@dataclass(frozen=True)
class HeldBack:
    """The draft model's next token, computed but not sent (the rule refused it): whether
    the main model would have accepted it is known for free when every sent token was, so
    Auto learns the acceptance of what it refuses too. `token` is -1 where it would have
    been drawn (drawing it would spend the reply's random numbers): `dist` says then."""

    confidence: float
    token: int
    dist: TokenDistribution | None


@dataclass
class Proposal:
    """One round's draft: tokens, the distribution each was drawn from (None: proposed
    deterministically), the draft's confidence per token, and what proposing cost."""

    tokens: list[int] = field(default_factory=list)
    dists: list[TokenDistribution | None] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    from_model: bool = False
    steps: int = 0  # draft model evaluations (catch-up included)
    seconds: float = 0.0  # time proposing, catch-up excluded
    catch_up: float = 0.0  # seconds syncing a draft that skipped rounds
    note: str = ""  # set when part of a chained source stopped for good (shown to the user)
    refused: bool = False  # the source had tokens and the rule sent none of them
    held_back: HeldBack | None = None  # the model's next token, refused by the rule


@dataclass(frozen=True)
class Capabilities:
    """What a draft source is, for the loop and Auto (declared, never guessed)."""

    reads_prompt: bool  # starting a reply reads the prompt into a draft model's cache
    can_pause: bool  # it runs a draft model, which Auto may pause when it does not pay
    free_part: bool  # part of it proposes at no model cost (lookup, a prediction): never paused


MODEL = Capabilities(reads_prompt=True, can_pause=True, free_part=False)
FREE = Capabilities(reads_prompt=False, can_pause=False, free_part=True)


def combined(model: Capabilities) -> Capabilities:
    """A free source (lookup, a prediction) in front of `model`'s."""
    return Capabilities(model.reads_prompt, model.can_pause, free_part=True)


class DraftSource(Protocol):
    """Where a reply's draft tokens come from; built once per lease (app/runtime), typed.
    `warm` starts a reply (it resets what the source knew of the last one)."""

    @property
    def name(self) -> str: ...

    @property
    def identity(self) -> str:
        """What Auto's memory is keyed on (a model file's path, size and mtime)."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def model(self) -> DraftModel | None:
        """The draft model it runs (compatibility checks); None when it runs none."""
        ...

    @property
    def translates_for(self) -> object | None:
        """The main model its proposals were translated for; None: they are the draft
        model's own ids (a vocabulary shared with the main model)."""
        ...

    def warm(self, sequence: Sequence[int], cancel: CancelFlag | None = None, *, model: bool = True) -> None:
        """A reply starts from `sequence` (its prompt). `model`: also read the prompt into the
        draft model (False when Auto will not run it in this reply)."""
        ...

    def propose(
        self, sequence: Sequence[int], budget: int, sampler: TokenSampler, rule: DraftRule
    ) -> Proposal: ...


def file_identity(path: str | Path | None) -> str | None:
    """Path, size and modification time: changes whenever the file (or folder) does."""
    if path is None:
        return None
    p = Path(path)
    try:
        if p.is_dir():
            stats = [f.stat() for f in sorted(p.iterdir()) if f.is_file()]
            size = sum(s.st_size for s in stats)
            mtime = max((s.st_mtime_ns for s in stats), default=0)
        else:
            st = p.stat()
            size, mtime = st.st_size, st.st_mtime_ns
    except OSError:
        return None
    return f"{p.resolve()}|{size}|{mtime}"


def model_identity(model: DraftModel) -> str:
    return file_identity(model.path) or f"model:{model.name}"


def push_window(window: list[int], token: int, limit: int) -> None:
    """Append to a repeat-penalty window, keeping its last `limit` tokens."""
    if limit <= 0:
        return
    window.append(token)
    if len(window) > limit:
        del window[0]


class ModelDraft:
    """A draft model whose token ids are the main model's."""

    capabilities = MODEL
    translates_for = None

    def __init__(self, model: DraftModel) -> None:
        self.model: DraftModel = model
        self.name = model.name
        # finds its greedy tokens on its device (checked once: a protocol check is not free)
        self._on_device_model = model if isinstance(model, DeviceGreedy) else None

    @property
    def identity(self) -> str:
        return model_identity(self.model)

    def full_note(self, n_tokens: int) -> str:
        return (
            f"The draft's context ({self.model.n_ctx} tokens) is full at {n_tokens} tokens: "
            "the rest of the reply was generated without it."
        )

    def warm(self, sequence: Sequence[int], cancel: CancelFlag | None = None, *, model: bool = True) -> None:
        """Read the prompt into the draft's cache, a batch at a time (a cancelled reply stops
        between batches; what was read stays for the next reply)."""
        if not model:
            return
        if len(sequence) > self.model.n_ctx:
            raise DraftContextFull(
                f"The prompt ({len(sequence)} tokens) does not fit the draft's context "
                f"({self.model.n_ctx} tokens): the reply was generated without the draft."
            )
        read_prompt(self.model, sequence, cancel)

    def propose(
        self,
        sequence: Sequence[int],
        budget: int,
        sampler: TokenSampler,
        rule: DraftRule,
        *,
        queue_verify: Callable[[Any], None] | None = None,
    ) -> Proposal:
        """Up to `budget` tokens continuing `sequence`, while `rule` keeps them. `queue_verify`:
        given the tokens where the draft model found them on its device, before it waits for
        them, when all of them will most likely be sent (see DeviceGreedy.greedy_run)."""
        if not rule.model_allowed:
            return Proposal()
        model = self.model
        room = model.n_ctx - len(sequence) + 1  # the last proposal is never evaluated
        if room < 1:
            raise DraftContextFull(self.full_note(len(sequence)))
        budget = min(budget, room)
        out = Proposal(from_model=True)
        behind = len(sequence) - model.n_cached
        t0 = time.perf_counter()
        try:
            model.prefill(sequence)
        except ContextOverflowError:
            raise DraftContextFull(self.full_note(len(sequence))) from None
        t1 = time.perf_counter()
        if behind > 3:  # ingesting more than a round's usual 1-2 new tokens: skipped rounds
            out.catch_up = t1 - t0
            t0 = t1
        out.steps = 1
        on_device = self._on_device_model if sampler.plain_greedy else None
        if on_device is not None and self._on_device(on_device, budget, rule, out, queue_verify):
            out.seconds = time.perf_counter() - t0
            return out
        window = list(sampler.window(sequence))
        confidence = rule.needs_confidence
        while len(out.tokens) < budget:
            q = sampler.distribution(model.logits(0), window, confidence)
            if not rule.keep(len(out.tokens) + 1, q.confidence, True):
                out.held_back = HeldBack(q.confidence, q.top if sampler.greedy else -1, q)
                break
            token = sampler.sample(q)
            out.tokens.append(token)
            out.dists.append(q)
            out.confidences.append(q.confidence)
            if len(out.tokens) == budget or model.is_eog(token) or not rule.extend(len(out.tokens)):
                break
            push_window(window, token, sampler.window_size)
            model.eval([token], 1)
            out.steps += 1
        out.seconds = time.perf_counter() - t0
        return out

    def _on_device(
        self,
        model: DeviceGreedy,
        budget: int,
        rule: DraftRule,
        out: Proposal,
        queue_verify: Callable[[Any], None] | None,
    ) -> bool:
        """propose's loop when the argmax alone decides (TokenSampler.plain_greedy): the whole
        budget drafted on the device with one wait, then cut where the loop would have stopped
        (the rule, the end of generation), so the proposal is the same; drafting past the cut
        is work lost, the price of not waiting after every token. A rule without a cutoff
        sends the whole run (unless it ends the generation): the verify batch may be queued
        behind it. False when the run stopped before a row for the numpy sampler: the loop
        goes on from there."""
        then = queue_verify if not rule.needs_confidence else None
        found = model.greedy_run(budget, rule.needs_confidence, then)
        for i, token in enumerate(found.tokens):
            confidence = found.confidence(i)
            if not rule.keep(i + 1, confidence, True):
                out.held_back = HeldBack(confidence, token, None)
                out.steps += i  # the steps that loop would have taken (the run's others: in its seconds)
                return True
            out.tokens.append(token)
            out.dists.append(None)  # q is all on the token: deterministic, as the verify reads it
            out.confidences.append(confidence)
            if len(out.tokens) == budget or self.model.is_eog(token) or not rule.extend(len(out.tokens)):
                out.steps += i
                return True
        out.steps += len(found.tokens)
        return False


def deterministic(tokens: Sequence[int], rule: DraftRule, clue: int = 0) -> Proposal:
    """Tokens proposed without a distribution (q all on each), while the rule keeps them;
    `clue`: how strong the match behind them is (see free_confidence)."""
    out = Proposal()
    confidence = free_confidence(clue)
    for i, token in enumerate(tokens):
        if not rule.keep(i + 1, confidence, False):
            break
        out.tokens.append(token)
        out.dists.append(None)
        out.confidences.append(confidence)
    out.refused = bool(tokens) and not out.tokens
    return out
