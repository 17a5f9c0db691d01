"""The sampler, as probability distributions: one definition for plain decoding, for the
draft's proposals (q) and for the main model's verification (p).

Speculative sampling needs the whole distribution a sampler draws from, not only its draw, so
the chain llama.cpp applies (repeat penalty, top-k, top-p, min-p, temperature) is written
here over numpy: each step of it keeps a prefix of the tokens sorted by logit, so everything
after the penalty runs on a small candidate set instead of the 262k-token vocabulary. This is
faster than llama.cpp's own chain driven through ctypes (it copies the whole vocabulary into
a token array on every call; see bench/sampler_bench.py). Tokens more than CANDIDATE_NATS
below the best (probability ratio under 2e-9) are treated as impossible.

Temperature 0 is greedy: the distribution is all on the penalised argmax, exactly what plain
greedy decoding picks, so speculative text at temperature 0 is identical to plain text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.core.errors import SpeculaError
from app.core.request import SamplingSettings

CANDIDATE_NATS = 20.0  # exp(-20) ~ 2e-9: below that, a token is never kept by any setting
CONFIDENCE_NATS = 16.0  # greedy confidence: the softmax over tokens within this of the best


class InvalidLogitsError(SpeculaError):
    """A model produced scores that are not numbers (NaN) for every token."""


@dataclass(slots=True)
class TokenDistribution:
    """A sparse distribution: candidate ids (most likely first) and their probabilities.
    `confidence` is the most likely token's probability (NaN when it was not asked for)."""

    ids: np.ndarray
    probs: np.ndarray
    confidence: float = math.nan

    @property
    def top(self) -> int:
        return int(self.ids[0])

    def prob(self, token: int) -> float:
        if len(self.ids) == 1:
            return 1.0 if int(self.ids[0]) == token else 0.0
        hit = np.flatnonzero(self.ids == token)
        return float(self.probs[hit[0]]) if len(hit) else 0.0

    def overlap(self, other: TokenDistribution | None, token: int) -> float:
        """Sum over x of min(p(x), q(x)): the chance that a token drafted from `other` (q,
        None: always `token`) is accepted. Only for measurements."""
        if other is None:
            return self.prob(token)
        common, i, j = np.intersect1d(self.ids, other.ids, assume_unique=True, return_indices=True)
        return float(np.minimum(self.probs[i], other.probs[j]).sum()) if len(common) else 0.0


def point(token: int, confidence: float = math.nan) -> TokenDistribution:
    return TokenDistribution(np.array([token], dtype=np.int64), np.ones(1), confidence)


def draw(probs: np.ndarray, u: float) -> int:
    """Index drawn from (unnormalised, non-negative) `probs` with a uniform u in [0, 1)."""
    cum = np.cumsum(probs)
    i = int(np.searchsorted(cum, u * cum[-1], side="right"))
    return min(i, len(probs) - 1)


def _seed(seed: int | None) -> int | None:
    """-1 is "random" (llama.cpp's convention); another negative seed is its 64-bit pattern
    (numpy takes no negative seeds: a client's -5 failed the reply)."""
    return None if seed is None or seed == -1 else seed % 2**64


class TokenSampler:
    """The sampler chain for one reply: settings and a random generator (seeded when the
    request has a seed). Stateless otherwise: the repeat-penalty window is passed in."""

    def __init__(self, settings: SamplingSettings) -> None:
        self.settings = settings
        self.greedy = settings.temperature <= 0
        self.rng = np.random.default_rng(_seed(settings.seed))
        self._penalty = settings.repeat_penalty if settings.repeat_last_n > 0 else 1.0
        self._log_min_p = math.log(settings.min_p) if settings.min_p > 0 else -math.inf

    # --- the chain --------------------------------------------------------------------------
    @property
    def window_size(self) -> int:
        """How many recent tokens the repeat penalty looks at (0: no penalty)."""
        return self.settings.repeat_last_n if self._penalty != 1.0 else 0

    def window(self, sequence: Sequence[int]) -> Sequence[int]:
        """The tokens the repeat penalty looks at."""
        n = self.window_size
        return sequence[-n:] if n > 0 else ()

    def _penalised(self, logits: np.ndarray, recent: Sequence[int]) -> np.ndarray:
        if not recent:
            return logits
        seen = np.fromiter(set(recent), dtype=np.int64)
        seen = seen[(seen >= 0) & (seen < len(logits))]
        out = np.array(logits, dtype=np.float32)
        vals = out[seen]
        out[seen] = np.where(vals > 0, vals / self._penalty, vals * self._penalty)
        return out

    def distribution(
        self, logits: np.ndarray, recent: Sequence[int] = (), confidence: bool = False
    ) -> TokenDistribution:
        """The distribution the sampler draws the next token from. `recent`: the penalty
        window (see `window`); `confidence`: also fill the top token's probability."""
        if self.greedy:
            return self._greedy(logits, recent, confidence)
        lg = self._penalised(logits, recent)
        best = float(lg.max())
        if not math.isfinite(best):
            lg, best = _finite(lg)
        kept = self._within_min_p(lg, best) if self.settings.min_p > 0 else None
        ids, vals = kept if kept is not None else self._chain(lg, best)
        probs = np.exp((vals - best) / self.settings.temperature)
        probs /= probs.sum()
        return TokenDistribution(ids.astype(np.int64), probs, float(probs[0]))

    def _top(self, lg: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Tokens at or above `floor`, cut to top-k, most likely first."""
        ids = np.flatnonzero(lg >= floor)
        vals = lg[ids].astype(np.float64)
        k = self.settings.top_k
        if 0 < k < len(ids):
            part = np.argpartition(vals, len(vals) - k)[len(vals) - k :]
            ids, vals = ids[part], vals[part]
        order = np.argsort(-vals, kind="stable")
        return ids[order], vals[order]

    def _within_min_p(self, lg: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray] | None:
        """The fast path: every step of the chain keeps a prefix of the sorted tokens, and
        min-p's is usually the shortest, so only its few tokens are looked at. Top-p needs the
        weight of the whole top-k set, which includes tokens under min-p's cut; bounding it
        (each weighs less than min_p) settles top-p's cut in nearly every case. None when it
        does not: then the whole chain runs."""
        s = self.settings
        ids, vals = self._top(lg, best + self._log_min_p)
        if s.top_p >= 1.0:
            return ids, vals
        cum = np.cumsum(np.exp(vals - best))
        width = s.top_k if s.top_k > 0 else len(lg)
        unseen = max(0, width - len(ids))  # top-k members below min-p's cut
        z_lo, z_hi = float(cum[-1]), float(cum[-1]) + unseen * s.min_p
        cut = int(np.searchsorted(cum, s.top_p * z_lo, side="left")) + 1
        if cut < len(ids) and unseen:
            upper = int(np.searchsorted(cum, s.top_p * z_hi, side="left")) + 1
            if min(upper, len(ids)) != cut:
                return None
        return ids[:cut], vals[:cut]

    def _chain(self, lg: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray]:
        """Top-k, top-p, min-p, as llama.cpp applies them, over every plausible token."""
        s = self.settings
        ids, vals = self._top(lg, best - CANDIDATE_NATS)
        keep = len(ids)
        if s.top_p < 1.0:
            cum = np.cumsum(np.exp(vals - best))  # temperature 1: what top-p and min-p look at
            keep = min(keep, int(np.searchsorted(cum, s.top_p * cum[-1], side="left")) + 1)
        if s.min_p > 0:
            keep = min(keep, int(np.count_nonzero(vals[:keep] >= best + self._log_min_p)) or 1)
        return ids[:keep], vals[:keep]

    def _greedy(self, logits: np.ndarray, recent: Sequence[int], confidence: bool) -> TokenDistribution:
        best = int(np.argmax(logits))
        lg = logits
        if not math.isfinite(float(lg[best])):
            lg, _ = _finite(lg)
            best = int(np.argmax(lg))
        # A penalty over 1 only lowers the logits of the tokens it saw: unless the argmax is
        # one of them, it stands. Under 1 it raises them: any of them may overtake it.
        if recent and (self._penalty < 1.0 or best in set(recent)):
            lg = self._penalised(lg, recent)
            best = int(np.argmax(lg))
        conf = math.nan
        if confidence:
            top = float(lg[best])
            near = lg[lg >= top - CONFIDENCE_NATS]
            conf = 1.0 / float(np.exp(near.astype(np.float64) - top).sum())
        return point(best, conf)

    # --- drawing ------------------------------------------------------------------------------
    def sample(self, dist: TokenDistribution) -> int:
        if len(dist.ids) == 1:
            return int(dist.ids[0])
        return int(dist.ids[draw(dist.probs, self.rng.random())])

    def verify(self, p: TokenDistribution, q: TokenDistribution | None, token: int) -> int | None:
        """Speculative sampling (Leviathan et al. 2023; Chen et al. 2023): a token drafted
        from q (None: proposed deterministically, q is all on `token`) is kept with probability
        min(1, p/q); None then. Otherwise the main model's own token is drawn from the residual
        max(0, p - q), normalised, and returned. Either way the token has distribution p."""
        p_x = p.prob(token)
        if p_x <= 0.0:
            return self._residual(p, q, token)
        if self.greedy:
            return None  # p is all on one token and it is this one
        q_x = 1.0 if q is None else q.prob(token)
        if q_x <= p_x or self.rng.random() * q_x < p_x:
            return None
        return self._residual(p, q, token)

    def _residual(self, p: TokenDistribution, q: TokenDistribution | None, token: int) -> int:
        if len(p.ids) == 1:
            return int(p.ids[0])
        rest = p.probs.copy()
        if q is None:
            rest[p.ids == token] = 0.0
        else:
            _, i, j = np.intersect1d(p.ids, q.ids, assume_unique=True, return_indices=True)
            rest[i] = np.maximum(rest[i] - q.probs[j], 0.0)
        if rest.sum() <= 1e-12:  # rounding: p and q agree to the last bit
            rest = p.probs
        return int(p.ids[draw(rest, self.rng.random())])


def _finite(logits: np.ndarray) -> tuple[np.ndarray, float]:
    """Scores with NaN as impossible, and their best; an error when nothing is left."""
    lg = np.where(np.isnan(logits), -np.inf, logits).astype(np.float32)
    best = float(lg.max())
    if not math.isfinite(best):
        raise InvalidLogitsError("the model produced invalid scores (NaN) for the next token")
    return lg, best
