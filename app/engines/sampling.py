"""The sampler, as probability distributions: one definition for plain decoding, for the
draft's proposals (q) and for the main model's verification (p).

Speculative sampling needs the whole distribution a sampler draws from, not only its draw, so
the chain llama.cpp applies (repeat penalty, top-k, top-p, min-p, temperature) is written
here over numpy. Every step of the chain keeps the best tokens, so only the few that can
matter are ever looked at: a row of logits is read in place (a view of the engine's buffer,
never copied), its block maxima say where the candidates are, the repeat penalty is applied
to the seen tokens among them only, and what is sorted is what the chain keeps (partial
selection finds top-p's cut). This is faster than llama.cpp's own chain driven through ctypes
(it copies the whole vocabulary into a token array on every call; see bench/sampler_timing.py).
Tokens more than CANDIDATE_NATS below the best (probability ratio under 2e-9) are treated as
impossible.

Temperature 0 is greedy: the distribution is all on the penalised argmax, exactly what plain
greedy decoding picks, so speculative text at temperature 0 is identical to plain text. Its
confidence is llama.cpp's draft confidence: the top token's share of the ten best.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.core.errors import SpeculaError
from app.core.request import SamplingSettings

CANDIDATE_NATS = 20.0  # exp(-20) ~ 2e-9: below that, a token is never kept by any setting
CONFIDENCE_TOP = 10  # greedy confidence: the top token's probability among the ten best
SORTED_UP_TO = 1024  # a pure-temperature distribution is sorted up to this size, else only its top first
BLOCK = 512  # logits are scanned as blocks of this many: their maxima say where to look
_EMPTY = np.zeros(0, dtype=np.int64)


INVALID_SCORES = "the model produced invalid scores (NaN) for the next token"


class InvalidLogitsError(SpeculaError):
    """A model produced scores that are not numbers (NaN) for every token."""


@dataclass(slots=True)
class TokenDistribution:
    """A sparse distribution: candidate ids (the most likely first) and their probabilities.
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


def greedy_confidence(top: np.ndarray) -> float:
    """The greedy confidence from the CONFIDENCE_TOP best (penalised) scores, in any order:
    the best one's probability among them. Summed in sorted order, so that scores found
    elsewhere (an MLX draft's, on the device) give the very same figure."""
    vals = np.sort(top.astype(np.float64))
    return 1.0 / float(np.exp(vals - vals[-1]).sum())


def draw(probs: np.ndarray, u: float) -> int:
    """Index drawn from (unnormalised, non-negative) `probs` with a uniform u in [0, 1)."""
    cum = np.cumsum(probs)
    i = int(np.searchsorted(cum, u * cum[-1], side="right"))
    return min(i, len(probs) - 1)


def _seed(seed: int | None) -> int | None:
    """-1 is "random" (llama.cpp's convention); another negative seed is its 64-bit pattern
    (numpy takes no negative seeds: a client's -5 failed the reply)."""
    return None if seed is None or seed == -1 else seed % 2**64


class LogitsRow:
    """One row of logits, read in place, and where its best tokens are: the maximum of every
    BLOCK tokens (one pass), so that finding the tokens above a floor reads only the blocks
    that reach it. NaN scores are impossible tokens (a copy is made only then)."""

    __slots__ = ("_blocks", "_grid", "best_block", "logits", "n")

    def __init__(self, logits: np.ndarray) -> None:
        self.n = len(logits)
        bmax = _block_max(logits)
        if np.isnan(bmax).any() or not math.isfinite(float(bmax.max())):
            logits = _finite(logits)
            bmax = _block_max(logits)
        self.logits, self._blocks = logits, bmax
        self._grid = logits[: self.n - self.n % BLOCK].reshape(-1, BLOCK)
        self.best_block = int(np.argmax(bmax))

    @property
    def best(self) -> float:
        return float(self._blocks[self.best_block])

    def argmax(self) -> int:
        """The first token with the highest score (np.argmax's choice)."""
        start = self.best_block * BLOCK
        return start + int(np.argmax(self.logits[start : start + BLOCK]))

    def in_top_blocks(self, k: int) -> np.ndarray:
        """Ids (ascending) of every token in the k blocks with the highest maxima: the k best
        tokens are among them (a block below the k-th best maximum has k better tokens)."""
        n_blocks = len(self._blocks)
        if k >= n_blocks:
            return np.arange(self.n)
        blocks = np.sort(np.argpartition(self._blocks, n_blocks - k)[n_blocks - k :])
        full = blocks[blocks < len(self._grid)]
        ids = (full[:, None] * BLOCK + np.arange(BLOCK)).ravel()
        if len(full) < len(blocks):  # the last, partial block
            ids = np.concatenate([ids, np.arange(len(self._grid) * BLOCK, self.n)])
        return ids

    def top(self, k: int, seen: np.ndarray) -> np.ndarray:
        """Ids of the tokens that can be among the k best once the `seen` ones are penalised
        (raised or lowered), besides the seen ones: the best k + s unpenalised, s the number
        of seen tokens among them (an unseen token below them has k unseen ones above it)."""
        want = k
        while True:
            ids = self.in_top_blocks(want)
            if len(ids) > want:
                vals = self.logits[ids]
                ids = ids[np.argpartition(vals, len(vals) - want)[len(vals) - want :]]
            counted = k + (int(np.isin(ids, seen).sum()) if len(seen) else 0)
            if want >= counted or want >= self.n:
                return ids
            want = counted

    def blocks_reaching(self, floor: float) -> int:
        """How many blocks hold a token scoring at least `floor`."""
        return int(np.count_nonzero(self._blocks >= floor))

    def above(self, floor: float) -> np.ndarray:
        """Ids (ascending) of the tokens scoring at least `floor`."""
        blocks = np.flatnonzero(self._blocks >= floor)
        if len(blocks) * 8 > len(self._blocks):  # a flat row: most blocks reach it
            return np.flatnonzero(self.logits >= floor)
        full = blocks[blocks < len(self._grid)]
        rows, cols = np.nonzero(self._grid[full] >= floor)
        ids = full[rows] * BLOCK + cols
        if len(full) < len(blocks):  # the last, partial block
            start = len(self._grid) * BLOCK
            ids = np.concatenate([ids, np.flatnonzero(self.logits[start:] >= floor) + start])
        return ids


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
    def plain_greedy(self) -> bool:
        """Whether the argmax of the raw logits alone picks every token (temperature 0, no
        repeat penalty): what a model can then find where its logits are (app/engines/device_greedy.py)."""
        return self.greedy and self.window_size == 0

    @property
    def window_size(self) -> int:
        """How many recent tokens the repeat penalty looks at (0: no penalty)."""
        return self.settings.repeat_last_n if self._penalty != 1.0 else 0

    def window(self, sequence: Sequence[int]) -> Sequence[int]:
        """The tokens the repeat penalty looks at."""
        n = self.window_size
        return sequence[-n:] if n > 0 else ()

    def _seen(self, recent: Sequence[int], n_vocab: int) -> np.ndarray:
        if not recent:
            return _EMPTY
        unique = set(recent)  # a few dozen ids: a set is cheaper than np.unique
        seen = np.fromiter(unique, dtype=np.int64, count=len(unique))
        return seen[(seen >= 0) & (seen < n_vocab)]

    def _penalise(self, vals: np.ndarray) -> np.ndarray:
        """llama.cpp's repeat penalty (in float32, as it computes it)."""
        vals, p = vals.astype(np.float32), np.float32(self._penalty)
        out: np.ndarray = np.where(vals > 0, vals / p, vals * p)
        return out

    def _candidates(
        self, row: LogitsRow, recent: Sequence[int], nats: float
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """The tokens whose penalised score is within `nats` of the best penalised score:
        (ids ascending, their penalised scores as float64, the best). The penalty touches the
        seen tokens only: the best is at least the top token's penalised score, so every
        candidate is a seen token or scores at least that minus `nats` unpenalised. With
        top-k, only the tokens that can be among the k best once penalised are looked at
        (LogitsRow.top), all that top-k keeps: a flat row has a hundred thousand tokens
        within `nats`, and merging them with the seen ones cost milliseconds a token."""
        seen = self._seen(recent, row.n) if self._penalty != 1.0 else _EMPTY
        lg = row.logits
        if not len(seen):
            ids = self._pool(row, row.best - nats, seen)
            return ids, lg[ids].astype(np.float64), row.best
        top = row.argmax()
        bound = float(self._penalise(lg[top : top + 1])[0]) if top in seen else row.best
        pool = self._pool(row, bound - nats, seen)
        ids = np.union1d(pool, seen)
        vals = lg[ids].astype(np.float32)
        vals[np.searchsorted(ids, seen)] = self._penalise(lg[seen])
        best = float(vals.max())
        keep = vals >= best - nats
        return ids[keep], vals[keep].astype(np.float64), best

    def _pool(self, row: LogitsRow, floor: float, seen: np.ndarray) -> np.ndarray:
        """Ids (ascending) of the unpenalised tokens scoring at least `floor`, or, where more
        blocks reach it than top-k can keep tokens, of those among them that can be among
        the k best once the seen ones are penalised (fewer, the same result after top-k)."""
        k = self.settings.top_k
        if 0 < k < row.n and row.blocks_reaching(floor) > k + len(seen):
            ids = np.sort(row.top(k, seen))
            kept: np.ndarray = ids[row.logits[ids] >= floor]
            return kept
        return row.above(floor)

    def distribution(
        self, logits: np.ndarray, recent: Sequence[int] = (), confidence: bool = False
    ) -> TokenDistribution:
        """The distribution the sampler draws the next token from. `recent`: the penalty
        window (see `window`); `confidence`: also fill the top token's probability."""
        row = LogitsRow(logits)
        if self.greedy:
            return self._greedy(row, recent, confidence)
        kept = self._within_min_p(row, recent) if self.settings.min_p > 0 else None
        if kept is None:
            ids, vals, best = self._candidates(row, recent, CANDIDATE_NATS)
            ids, vals = self._chain(ids, vals, best)
        else:
            ids, vals, best = kept
        probs = np.exp((vals - best) / self.settings.temperature)
        probs /= probs.sum()
        return TokenDistribution(ids, probs, float(probs[0]))

    def _top_k(self, ids: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        k = self.settings.top_k
        if 0 < k < len(ids):
            part = np.argpartition(vals, len(vals) - k)[len(vals) - k :]
            part.sort()  # ids stay ascending: ties go to the lower id, as a stable sort would
            return ids[part], vals[part]
        return ids, vals

    def _within_min_p(
        self, row: LogitsRow, recent: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray, float] | None:
        """The fast path: every step of the chain keeps a prefix of the sorted tokens, and
        min-p's is usually the shortest, so only its few tokens are looked at. Top-p needs the
        weight of the whole top-k set, which includes tokens under min-p's cut; bounding it
        (each weighs less than min_p) settles top-p's cut in nearly every case. None when it
        does not: then the whole chain runs."""
        s = self.settings
        ids, vals, best = self._candidates(row, recent, -self._log_min_p)
        ids, vals = self._top_k(ids, vals)
        ids, vals = _sorted(ids, vals)
        if s.top_p >= 1.0:
            return ids, vals, best
        cum = np.cumsum(np.exp(vals - best))
        width = s.top_k if s.top_k > 0 else row.n
        unseen = max(0, width - len(ids))  # top-k members below min-p's cut
        z_lo, z_hi = float(cum[-1]), float(cum[-1]) + unseen * s.min_p
        cut = int(np.searchsorted(cum, s.top_p * z_lo, side="left")) + 1
        if cut < len(ids) and unseen:
            upper = int(np.searchsorted(cum, s.top_p * z_hi, side="left")) + 1
            if min(upper, len(ids)) != cut:
                return None
        return ids[:cut], vals[:cut], best

    def _chain(self, ids: np.ndarray, vals: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray]:
        """Top-k, top-p, min-p, as llama.cpp applies them, over every plausible token; only
        what top-p keeps is sorted (the most likely first), found by partial selection."""
        s = self.settings
        ids, vals = self._top_k(ids, vals)
        if s.top_p >= 1.0 and len(ids) <= SORTED_UP_TO:
            return _sorted(ids, vals)
        if s.top_p >= 1.0:  # no min-p either (its fast path settles it): only the top goes first
            i = int(np.argmax(vals))
            if i:
                ids, vals = ids.copy(), vals.copy()
                ids[[0, i]], vals[[0, i]] = ids[[i, 0]], vals[[i, 0]]
            return ids, vals
        weights = np.exp(vals - best)  # temperature 1: what top-p and min-p look at
        goal = s.top_p * float(weights.sum())
        k = 64
        while k < len(ids):
            part = np.argpartition(-vals, k)[:k]
            if float(weights[part].sum()) >= goal:
                part.sort()
                ids, vals = ids[part], vals[part]
                break
            k *= 8
        ids, vals = _sorted(ids, vals)
        cum = np.cumsum(np.exp(vals - best))
        keep = min(len(ids), int(np.searchsorted(cum, goal, side="left")) + 1)
        if s.min_p > 0:
            keep = min(keep, int(np.count_nonzero(vals[:keep] >= best + self._log_min_p)) or 1)
        return ids[:keep], vals[:keep]

    def _greedy(self, row: LogitsRow, recent: Sequence[int], confidence: bool) -> TokenDistribution:
        if confidence:  # only the ten best penalised tokens matter
            seen = self._seen(recent, row.n) if self._penalty != 1.0 else _EMPTY
            ids = np.union1d(row.top(CONFIDENCE_TOP, seen), seen)
            vals = row.logits[ids].astype(np.float64)
            if len(seen):
                vals[np.searchsorted(ids, seen)] = self._penalise(row.logits[seen])
            i = int(np.argmax(vals))  # the lowest id among equals, as np.argmax
            if len(vals) > CONFIDENCE_TOP:
                vals = np.partition(vals, len(vals) - CONFIDENCE_TOP)[len(vals) - CONFIDENCE_TOP :]
            return point(int(ids[i]), greedy_confidence(vals))
        top = row.argmax()
        # A penalty over 1 only lowers the logits of the tokens it saw: unless the argmax is
        # one of them, it stands. Under 1 it raises them: any of them may overtake it.
        if recent and self._penalty != 1.0 and (self._penalty < 1.0 or top in set(recent)):
            ids, vals, _ = self._candidates(row, recent, 0.0)
            top = int(ids[int(np.argmax(vals))])
        return point(top)

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


def _sorted(ids: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The most likely first; ties by ascending id (ids come ascending: a stable sort)."""
    order = np.argsort(-vals, kind="stable")
    return ids[order], vals[order]


def _block_max(logits: np.ndarray) -> np.ndarray:
    head = len(logits) - len(logits) % BLOCK
    bmax = logits[:head].reshape(-1, BLOCK).max(axis=1)
    return np.append(bmax, logits[head:].max()) if head < len(logits) else bmax


def _finite(logits: np.ndarray) -> np.ndarray:
    """Scores with NaN as impossible; an error when nothing is left."""
    lg = np.where(np.isnan(logits), -np.inf, logits).astype(np.float32)
    if not math.isfinite(float(lg.max())):
        raise InvalidLogitsError(INVALID_SCORES)
    return lg
