"""Where draft tokens come from, and how many to ask for.

- ModelDraft: a small model continues the text greedily (its cache synced lazily, so a round
  that drafts nothing costs nothing).
- PromptLookupDraft: no second model; proposes what followed the latest earlier occurrence of
  the text's last few tokens (prompt and reply so far). Pays off when replies repeat their
  input: editing code, quoting, summarising.
- AdaptiveDraftLength ("Auto"): picks each round's draft length from what this generation has
  measured (acceptance, the cost of a draft step and of verifying a batch, relative to a plain
  step), using the expected speed-up (1 - a^(k+1)) / ((1 - a)(k c + 1)) of Leviathan et al.,
  down to not drafting at all when drafting cannot pay; it probes now and then, backing off.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Protocol

PROMPT_LOOKUP_KEY = "prompt-lookup"
PROMPT_LOOKUP_NAME = "Prompt lookup (no draft model)"


class DraftModel(Protocol):
    @property
    def name(self) -> str: ...
    def prefill(self, tokens: Sequence[int]) -> None: ...
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None: ...
    def top(self, row: int, with_prob: bool = True) -> tuple[int, float]: ...
    def is_eog(self, token: int) -> bool: ...


class DraftSource(Protocol):
    name: str

    def warm(self, sequence: Sequence[int]) -> None: ...
    def propose(self, sequence: Sequence[int], budget: int, p_min: float) -> list[int]: ...


class ModelDraft:
    def __init__(self, model: DraftModel) -> None:
        self.model = model
        self.name = model.name
        self.catch_up = 0.0  # seconds the last propose() spent catching up on skipped rounds

    def warm(self, sequence: Sequence[int]) -> None:
        self.model.prefill(sequence)

    def propose(self, sequence: Sequence[int], budget: int, p_min: float) -> list[int]:
        """Continue `sequence` greedily for up to `budget` tokens, stopping when the draft's
        top token is less likely than `p_min`."""
        model = self.model
        behind = len(sequence) - getattr(model, "n_cached", len(sequence))
        t0 = time.perf_counter()
        model.prefill(sequence)
        # Ingesting more than a round's usual 1-2 new tokens is catch-up after skipped rounds.
        self.catch_up = time.perf_counter() - t0 if behind > 3 else 0.0
        out: list[int] = []
        need_prob = p_min > 0.0
        while len(out) < budget:
            token, prob = model.top(0, need_prob)
            if prob < p_min:
                break
            out.append(token)
            if len(out) == budget or model.is_eog(token):
                break
            model.eval([token], 1)
        return out


class PromptLookupDraft:
    name = PROMPT_LOOKUP_NAME

    def __init__(self, max_ngram: int = 4, min_ngram: int = 2) -> None:
        self.max_ngram, self.min_ngram = max_ngram, min_ngram
        self._seq: list[int] = []
        # n -> n-gram -> latest start index that has at least one token after it
        self._index: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in range(min_ngram, max_ngram + 1)}

    def warm(self, sequence: Sequence[int]) -> None:
        self._sync(sequence)

    def _sync(self, sequence: Sequence[int]) -> None:
        if len(sequence) < len(self._seq) or list(sequence[: len(self._seq)]) != self._seq:
            self._seq = []
            self._index = {n: {} for n in self._index}
        old = len(self._seq)
        self._seq = list(sequence)
        for n, table in self._index.items():
            # an n-gram starting at i is usable once a token follows it: i + n < len
            for i in range(max(0, old - n), len(self._seq) - n):
                table[tuple(self._seq[i : i + n])] = i

    def propose(self, sequence: Sequence[int], budget: int, p_min: float) -> list[int]:
        self._sync(sequence)
        seq = self._seq
        for n in range(self.max_ngram, self.min_ngram - 1, -1):
            if len(seq) <= n:
                continue
            start = self._index[n].get(tuple(seq[-n:]))
            if start is not None and start + n < len(seq):
                return seq[start + n : start + n + budget]
        return []


class AdaptiveDraftLength:
    """Picks each round's draft length from the throughput measured in this generation.

    Arms are draft lengths (0 = no drafting, then 1, 2, 4, ... up to the maximum). Each round's
    wall time (everything: drafting, verifying, sampling, streaming) and the tokens it produced
    update that arm's tokens-per-second; the best arm is played. Longer arms are tried in turn
    only while acceptance makes them plausible, and other arms are re-tried now and then with a
    growing interval, so a draft that starts to help (or stops) is noticed. The expected-speedup
    formula (1 - a^(k+1)) / ((1 - a)(k c + 1)) is used to skip arms that cannot win.
    """

    EMA = 0.35

    def __init__(self, k_max: int) -> None:
        self.k_max = k_max
        arms = [0] + [k for k in (2, 4, 8, 16, 32) if k < k_max] + [k_max]
        self.arms = sorted(set(arms))
        self.rate: dict[int, float] = {}  # arm -> tokens per second
        self.plays: dict[int, int] = dict.fromkeys(self.arms, 0)
        self.hits, self.trials = 1.0, 2.0  # acceptance prior 0.5, weak
        self.rounds = 0
        self.next_explore = 8
        self.interval = 8
        self._current: int | None = None
        self._started = 0.0
        self._tokens = 0
        self._discount = 0.0

    @property
    def acceptance(self) -> float:
        return self.hits / self.trials

    def expected_gain(self, k: int, cost_ratio: float = 0.5) -> float:
        """Leviathan et al.'s expected speed-up for k draft tokens at this acceptance."""
        if k == 0:
            return 1.0
        a = min(self.acceptance, 0.999)
        return (1 - a ** (k + 1)) / ((1 - a) * (k * cost_ratio + 1))

    def _finish_round(self, now: float) -> None:
        if self._current is None:
            return
        elapsed = max(now - self._started - self._discount, 1e-6)
        rate = self._tokens / elapsed
        old = self.rate.get(self._current)
        self.rate[self._current] = rate if old is None else old + self.EMA * (rate - old)
        self.plays[self._current] += 1
        self._current = None

    def _pick(self) -> int:
        measured = {k: r for k, r in self.rate.items() if self.plays[k] >= 1}
        if 0 not in measured:
            return 0  # the baseline: one plain step
        if len(measured) == 1:
            return min(self.arms[1:], key=lambda k: abs(k - 4)) if len(self.arms) > 1 else 0
        best = max(measured, key=lambda k: measured[k])
        i = self.arms.index(best)
        # hill-climb: try the unmeasured neighbour of the best arm, upwards first
        for j in (i + 1, i - 1):
            if (
                0 < j < len(self.arms)
                and self.arms[j] not in measured
                and self.expected_gain(self.arms[j]) >= 0.9
            ):
                return self.arms[j]
        if self.rounds >= self.next_explore:
            self.next_explore = self.rounds + self.interval
            self.interval = min(self.interval * 2, 256)
            neighbours = [self.arms[j] for j in (i - 1, i + 1) if 0 <= j < len(self.arms)]
            if best == 0:
                neighbours = self.arms[1:2]  # a short probe: has the draft started to agree?
            if neighbours:
                return neighbours[self.rounds % len(neighbours)]
        return best

    def choose(self, budget: int, now: float) -> int:
        """Called at the start of each round (which ends the previous one)."""
        self._finish_round(now)
        self.rounds += 1
        k = self._pick()
        self._current, self._started, self._tokens, self._discount = k, now, 0, 0.0
        return min(k, max(budget, 0))

    def observe(self, drafted: int, accepted: int, catch_up: float = 0.0) -> None:
        """What this round produced; `catch_up` is time spent syncing a draft that skipped
        rounds (a cost of having saved, not of drafting now)."""
        self._tokens += accepted + 1
        self._discount += catch_up
        if drafted:
            tried = drafted if accepted == drafted else accepted + 1
            self.hits = self.hits * 0.9 + accepted
            self.trials = self.trials * 0.9 + tried
