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
    """Picks each round's draft length k from the throughput measured in this generation.

    Each length k (0 = no drafting, then 2, 4, 8, ... up to the maximum) keeps decayed sums of
    the tokens its rounds produced and of their wall time (drafting, verifying, sampling,
    streaming: everything), and the best tokens-per-second is played. Acceptance comes in runs
    (a draft is often right for a whole phrase, then wrong), which a per-token model such as
    Leviathan et al.'s (1 - a^(k+1)) / ((1 - a)(k c + 1)) underrates for long drafts, so that
    formula only decides which lengths are worth trying. A length's first round pays one-off
    set-up for a new batch size and is not counted. Lengths are tried by hill-climbing from 4;
    the best one's neighbours are re-tried with a growing interval, so a draft that starts (or
    stops) helping is noticed, and a useless draft costs only rare short probes.
    """

    DECAY = 0.8  # weight kept by an arm's past rounds each time it is played again

    def __init__(self, k_max: int) -> None:
        self.k_max = k_max
        arms = [0] + [k for k in (2, 4, 8, 16, 32) if k < k_max] + [k_max]
        self.arms = sorted(set(arms))
        self.plays: dict[int, int] = dict.fromkeys(self.arms, 0)
        self._tokens: dict[int, float] = {}
        self._time: dict[int, float] = {}
        self.hits, self.trials = 1.0, 2.0  # acceptance prior 0.5, weak
        self.rounds = 0
        self.next_explore = 16
        self.interval = 16
        self._current: int | None = None
        self._started = 0.0
        self._round_tokens = 0
        self._discount = 0.0
        self._probing = False
        self._round_is_probe = False

    @property
    def acceptance(self) -> float:
        return self.hits / self.trials

    def expected_gain(self, k: int, cost_ratio: float = 0.5) -> float:
        """Leviathan et al.'s expected speed-up for k draft tokens at this acceptance."""
        if k == 0:
            return 1.0
        a = min(self.acceptance, 0.999)
        return (1 - a ** (k + 1)) / ((1 - a) * (k * cost_ratio + 1))

    def rate(self, k: int) -> float | None:
        """Measured tokens per second of length k (None until timed)."""
        return self._tokens[k] / self._time[k] if k in self._time and self._time[k] > 0 else None

    def _finish_round(self, now: float) -> None:
        if self._current is None:
            return
        k = self._current
        self._current = None
        if self._round_is_probe:
            return  # a probe asks "does the draft agree now?", it is not a timing
        self.plays[k] += 1
        if self.plays[k] == 1 and k != 0 and self._round_tokens > 1:
            return  # a new batch size's first run pays set-up costs: not a measure (unless all was rejected)
        elapsed = max(now - self._started - self._discount, 1e-6)
        self._tokens[k] = self._tokens.get(k, 0.0) * self.DECAY + self._round_tokens
        self._time[k] = self._time.get(k, 0.0) * self.DECAY + elapsed

    def _pick(self) -> int:
        timed = {k: r for k in self.arms if (r := self.rate(k)) is not None}
        if self.plays[0] < 2:
            return 0  # the baseline: plain steps
        untimed_tried = [k for k in self.arms if self.plays[k] == 1 and k not in timed]
        if untimed_tried:
            return untimed_tried[0]  # finish timing a length tried once
        if len(timed) == 1:
            return min(self.arms[1:], key=lambda k: abs(k - 4)) if len(self.arms) > 1 else 0
        best = max(timed, key=lambda k: timed[k])
        i = self.arms.index(best)
        for j in (i + 1, i - 1):  # hill-climb: try an untimed neighbour of the best
            k = self.arms[j] if 0 < j < len(self.arms) else None
            if k is not None and k not in timed and (best > 0 or self.expected_gain(k) >= 0.9):
                return k
        if self.rounds >= self.next_explore:
            self.next_explore = self.rounds + self.interval
            self.interval = min(self.interval * 2, 256)
            if best == 0 and len(self.arms) > 1:
                self._probing = True
                return self.arms[1]  # a short probe: has the draft started to agree?
            neighbours = [self.arms[j] for j in (i - 1, i + 1) if 0 < j < len(self.arms)]
            if neighbours:
                return neighbours[(self.rounds // 8) % len(neighbours)]
        return best

    def choose(self, budget: int, now: float) -> int:
        """Called at the start of each round (which ends the previous one)."""
        self._finish_round(now)
        self.rounds += 1
        k = self._pick()
        self._current, self._started, self._round_tokens, self._discount = k, now, 0, 0.0
        self._round_is_probe = self._probing
        return min(k, max(budget, 0))

    def _forget_drafting_times(self) -> None:
        for k in self.arms[1:]:
            self.plays[k] = 0
            self._tokens.pop(k, None)
            self._time.pop(k, None)

    def observe(self, drafted: int, accepted: int, catch_up: float = 0.0) -> None:
        """What this round produced; `catch_up` is time spent syncing a draft that skipped
        rounds (a cost of having saved, not of drafting now)."""
        self._round_tokens += accepted + 1
        self._discount += catch_up
        if self._probing:
            self._probing = False
            if drafted and accepted * 2 >= drafted:
                self._forget_drafting_times()  # the draft agrees again: time the lengths anew
        if drafted:
            tried = drafted if accepted == drafted else accepted + 1
            self.hits = self.hits * 0.9 + accepted
            self.trials = self.trials * 0.9 + tried
