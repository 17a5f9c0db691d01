"""Auto: how much to draft, learned from what drafting measurably gains here.

Two things are learned, and kept between replies (app/engines/speculation_memory.py) so a
short reply does not pay for exploring:

- **The cutoff, per token.** How often the main model accepts a drafted token, by the draft's
  confidence (its top-token probability: one bucket per level, prompt lookup in its own), and
  what one more drafted token costs: a draft step plus the extra row in the verify batch
  (measured: verify time as a function of batch rows, fitted as a line). A token is sent
  while the chance that it and every token before it are accepted (the product of the
  buckets' acceptances) pays for its cost at the rate the best choice achieves: keep token j
  while P(accept 1..j) >= R* x (draft step + verify row), R* the best of the measured speeds
  with and without drafting. That is the marginal rule that maximises tokens per second
  (Dinkelbach); with a perfect cheap draft it drafts to Max Draft Size, with a poor one it
  stops after a token or two, or never starts.
- **Whether to run the draft at all.** Rounds with and without the draft keep their own
  measured speed (tokens over wall time, decayed). When drafting is slower, the draft model
  is paused for the rest of the reply (catching a paused draft up costs a prompt read of
  everything it skipped, so it is not probed within the reply) and re-tried at the start of
  a later reply, every 1, 2, 4, ... up to 16 replies. Prompt lookup costs nothing to consult
  and is never paused: the per-token rule alone decides what it sends.
"""

from __future__ import annotations

import math
from typing import Any

BUCKET_EDGES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)  # confidence levels; lookup is the last bucket
N_BUCKETS = len(BUCKET_EDGES) + 2
LOOKUP_BUCKET = N_BUCKETS - 1
OBS_DECAY = 0.995  # per observation: a bucket remembers its last few hundred tokens
RATE_DECAY = 0.9  # per round of that kind: speeds follow the last ten or so rounds
PRIOR_WEIGHT = 2.0
PLAIN_FIRST = 2  # rounds without the draft that measure the baseline when none is known
PAUSE_MARGIN = 0.98  # drafting must keep 98% of the speed without it ...
CLEAR_LOSS = 0.85  # ... and below 85% the measurement alone decides
MIN_DRAFT_ROUNDS = 4.0  # measured drafting rounds before judging ...
CONVINCED_ROUNDS = 8.0  # ... and when the learned costs say the draft should pay
LOOKUP_EXPLORE = 12.0  # proposals without a probability (lookup, a prediction) sent before the
# learned acceptance decides: the 0.5 prior alone may never pay for a row, and then never learns
PROBE_ROUNDS = 4  # drafting rounds a probing reply gets before the verdict
PROBE_LENGTH = 4  # ... each drafting this many tokens whatever the rule says
EXPLORE_LENGTHS = (2, 4, 3)  # a new pair's first drafting rounds: costs at several batch sizes
MAX_REPLY_INTERVAL = 16
REMEASURE_PLAIN = 32  # drafting rounds between rounds that re-measure the plain speed
DRAFT_COST_PRIOR = 0.6  # a draft step, relative to a plain step, until measured
ROW_COST_PRIOR = 0.25  # one more verify row, relative to a plain step, until measured

NO_GAIN = "no gain measured"
MEASURING = "measuring speed without the draft"


def bucket_of(confidence: float) -> int:
    if math.isnan(confidence):
        return LOOKUP_BUCKET
    for i, edge in enumerate(BUCKET_EDGES):
        if confidence < edge:
            return i
    return len(BUCKET_EDGES)


def _prior(bucket: int) -> float:
    if bucket == LOOKUP_BUCKET:
        return 0.5
    lo = 0.0 if bucket == 0 else BUCKET_EDGES[bucket - 1]
    hi = 1.0 if bucket == len(BUCKET_EDGES) else BUCKET_EDGES[bucket]
    return (lo + hi) / 2


class AutoDraft:
    """One reply's Auto: a DraftRule (keep) and the per-round choice (choose, observe)."""

    def __init__(
        self,
        costly: bool,
        state: dict[str, Any] | None,
        lookup_too: bool = False,
        baseline: float | None = None,
    ) -> None:
        self.costly = costly  # the source runs a model (a paused model falls behind)
        self.lookup_too = lookup_too  # ... and prompt lookup, which is never paused
        self.acc = [[_prior(b) * PRIOR_WEIGHT, PRIOR_WEIGHT] for b in range(N_BUCKETS)]
        self.t_draft: float | None = None
        self.verify: dict[int, list[float]] = {}  # rows -> [seconds, weight]
        self.rates = {"plain": [0.0, 0.0, 0.0], "draft": [0.0, 0.0, 0.0]}  # tokens, seconds, rounds
        self.paused = False
        self.interval = 1
        self.replies_left = 0
        self.since_plain = 0
        self.seen = [0.0, 0.0]  # all acceptance observations (no prior): chances, count
        self._load(state or {})
        if baseline and not self.rates["plain"][1]:  # plain replies measured it already
            self.rates["plain"] = [baseline, 1.0, 2.0]
        self.probing = False
        if self.paused and costly:
            if self.replies_left > 0:
                self.replies_left -= 1  # this reply goes without the draft
            else:
                self.probing, self.paused = True, False
                self.rates["draft"] = [0.0, 0.0, 0.0]  # judge the draft on this reply alone
        self.paused_at_start = self.paused and costly
        self.model_allowed = not self.paused_at_start
        # Costs and acceptance are learned from drafting, so a draft the rule would never send
        # could never prove it pays: a new pair, and a probing reply, draft fixed lengths first.
        self._forced: list[int] = []
        if costly and self.model_allowed:
            if sum(1 for n in self.verify if n > 1) < 3:
                self._forced = list(EXPLORE_LENGTHS)
            elif self.probing:
                self._forced = [PROBE_LENGTH] * PROBE_ROUNDS
        self._forcing = False
        self.plain_rounds = 0
        self.draft_rounds = 0
        self._p = 1.0
        self._round: tuple[str, float] | None = None  # arm, start time
        self._round_tokens = 0
        self._discount = 0.0
        self.verdict = ""  # why the draft was paused in this reply (for the user)

    # --- memory -----------------------------------------------------------------------------
    def _load(self, state: dict[str, Any]) -> None:
        try:
            acc = state.get("acc")
            if isinstance(acc, list) and len(acc) == N_BUCKETS:
                self.acc = [[float(s), float(n)] for s, n in acc]
            if state.get("t_draft"):
                self.t_draft = float(state["t_draft"])
            self.verify = {int(k): [float(v[0]), float(v[1])] for k, v in state.get("verify", {}).items()}
            for arm in self.rates:
                got = state.get("rates", {}).get(arm)
                if isinstance(got, list) and len(got) == 3:
                    self.rates[arm] = [float(x) for x in got]
            self.paused = bool(state.get("paused", False))
            self.interval = int(state.get("interval", 1))
            self.replies_left = int(state.get("replies_left", 0))
            self.since_plain = int(state.get("since_plain", 0))
            seen = state.get("seen")
            if isinstance(seen, list) and len(seen) == 2:
                self.seen = [float(seen[0]), float(seen[1])]
        except (TypeError, ValueError, AttributeError, IndexError):
            pass  # a damaged memory is re-learned

    def state(self) -> dict[str, Any]:
        return {
            "acc": [[round(s, 4), round(n, 4)] for s, n in self.acc],
            "t_draft": self.t_draft,
            "verify": {str(k): [v[0], round(v[1], 3)] for k, v in sorted(self.verify.items())},
            "rates": {arm: [round(x, 6) for x in v] for arm, v in self.rates.items()},
            "paused": self.paused,
            "interval": self.interval,
            "replies_left": self.replies_left,
            "since_plain": self.since_plain,
            "seen": [round(x, 4) for x in self.seen],
        }

    # --- estimates ----------------------------------------------------------------------------
    def rate(self, arm: str) -> float | None:
        tokens, seconds, rounds = self.rates[arm]
        return tokens / seconds if seconds > 0 and rounds > 0 else None

    def acceptance(self, confidence: float) -> float:
        s, n = self.acc[bucket_of(confidence)]
        return s / n if n > 0 else 0.5

    def _plain_step(self) -> float | None:
        if 1 in self.verify:
            return self.verify[1][0]
        r = self.rate("plain")
        if r:
            return 1.0 / r
        if self.verify:  # only batches timed so far: take off the rows' prior share
            n = min(self.verify)
            return self.verify[n][0] / (1 + ROW_COST_PRIOR * (n - 1))
        return None

    def row_cost(self, position: int = 2) -> float | None:
        """Seconds the `position`-th drafted token adds to a verify batch. Batches of two rows
        and more lie on a line (each row adds the output layer once more); going from one row
        to two costs extra, so the first drafted token is charged that step."""
        base = self._plain_step()
        pts = [(n, v[0], v[1]) for n, v in self.verify.items() if n >= 2]
        if len(pts) >= 2:
            w = sum(p[2] for p in pts)
            mx = sum(p[0] * p[2] for p in pts) / w
            my = sum(p[1] * p[2] for p in pts) / w
            var = sum(p[2] * (p[0] - mx) ** 2 for p in pts)
            if var > 0:
                slope = max(0.0, sum(p[2] * (p[0] - mx) * (p[1] - my) for p in pts) / var)
                if position == 1 and base is not None:
                    return max(slope, my + slope * (2 - mx) - base)
                return slope
        return base * ROW_COST_PRIOR if base else None

    def best_rate(self) -> float | None:
        rates = [r for r in (self.rate("plain"), self.rate("draft")) if r]
        if rates:
            return max(rates)
        base = self._plain_step()
        return 1.0 / base if base else None

    # --- the rule (DraftRule) --------------------------------------------------------------------
    @property
    def needs_confidence(self) -> bool:
        return True

    def keep(self, position: int, confidence: float, model_step: bool) -> bool:
        """Send token j while P(tokens 1..j accepted) pays for what it adds at the best rate:
        its verify row, and for a model's token after the first the draft step that computed
        it (the first one's step is the round's catch-up, spent whenever the draft runs)."""
        if position == 1:
            self._p = 1.0
        p = self._p * self.acceptance(confidence)
        exploring = math.isnan(confidence) and self.acc[LOOKUP_BUCKET][1] < PRIOR_WEIGHT + LOOKUP_EXPLORE
        if self._forcing or exploring:
            self._p = p
            return True
        rate, row = self.best_rate(), self.row_cost(position)
        if rate is not None and row is not None:
            step = 0.0
            if model_step and position > 1:
                base = self._plain_step() or 0.0
                step = self.t_draft if self.t_draft is not None else base * DRAFT_COST_PRIOR
            if p < rate * (step + row):
                return False
        self._p = p
        return True

    # --- rounds ---------------------------------------------------------------------------------
    def choose(self, budget: int, now: float) -> tuple[int, str]:
        """Called at the start of each round (which ends the previous one): the most tokens
        to draft this round, and why none (empty when drafting). A paused chained source still
        gets its prompt lookup (`model_allowed` is False then)."""
        self._finish_round(now)
        self._round = ("plain", now)  # becomes "draft" when the round drafts or runs the draft
        self._round_tokens, self._discount = 0, 0.0
        self._forcing = False
        if not self.model_allowed and self.costly:
            return (budget, "") if self.lookup_too else (0, NO_GAIN)
        if self.costly and (
            (self.rates["plain"][2] < 1.5 and self.plain_rounds < PLAIN_FIRST)
            or self.since_plain >= REMEASURE_PLAIN
        ):
            self.plain_rounds += 1
            self.since_plain = 0
            return 0, MEASURING
        if self._forced and self.seen[1] >= 2 and self.seen[0] < 0.2 * self.seen[1]:
            self._forced = []  # nothing is accepted: no need to time longer batches
        if self._forced and self.model_allowed:
            self._forcing = True
            return min(budget, self._forced.pop(0)), ""
        return budget, ""

    def _finish_round(self, now: float) -> None:
        if self._round is None:
            return
        arm, started = self._round
        self._round = None
        if self._forcing:
            return  # fixed lengths that time costs say nothing of the rule's speed
        if arm == "draft":
            self.draft_rounds += 1
            self.since_plain += 1
        sums = self.rates[arm]
        elapsed = max(now - started - self._discount, 1e-6)
        rate = self.rate(arm)
        if rate:  # a round that another process slowed three-fold is not this arm's speed
            elapsed = min(elapsed, 3.0 * max(self._round_tokens, 1) / rate)
        sums[0] = sums[0] * RATE_DECAY + self._round_tokens
        sums[1] = sums[1] * RATE_DECAY + elapsed
        sums[2] = sums[2] * RATE_DECAY + 1
        if arm == "draft" and self.costly:
            self._judge()

    def predicted_gain(self) -> float | None:
        """The speed-up the learned costs and overall acceptance allow at the best draft
        length (Leviathan et al.'s expectation with the measured costs); None until known."""
        base, first, row = self._plain_step(), self.row_cost(1), self.row_cost(2)
        if base is None or first is None or row is None or self.t_draft is None or self.seen[1] < 8:
            return None
        a = min(self.seen[0] / self.seen[1], 0.999)
        c, r1, r = self.t_draft / base, first / base, row / base
        return max(
            (1 - a ** (k + 1)) / ((1 - a) * (k * c + 1 + r1 + (k - 1) * r)) for k in range(1, 17)
        )

    def _judge(self) -> None:
        """Pause the draft when it measurably loses: clearly, or a little while the learned
        costs and acceptance do not promise a gain either (one slow round on a busy machine
        must not pause a draft that pays)."""
        plain, draft = self.rate("plain"), self.rate("draft")
        if plain is None or draft is None or self.rates["draft"][2] < MIN_DRAFT_ROUNDS:
            return
        if self.probing and self.draft_rounds < PROBE_ROUNDS:
            return
        predicted = self.predicted_gain()
        promising = predicted is not None and predicted >= 1 / PAUSE_MARGIN
        if promising and self.rates["draft"][2] < CONVINCED_ROUNDS:
            return  # measurement and model disagree: measure longer before pausing
        losing = draft < plain * CLEAR_LOSS or (draft < plain * PAUSE_MARGIN and not promising)
        if self.probing:
            self.probing = False
            if not losing:
                self.interval = 1
                return
            self.interval = min(self.interval * 2, MAX_REPLY_INTERVAL)
        elif not losing:
            return
        self.paused, self.model_allowed = True, False
        self.replies_left = self.interval
        self.verdict = (
            f"Auto paused the draft: {draft:.1f} tok/s with it vs {plain:.1f} without on this machine "
            f"(it is tried again {_after(self.replies_left)})."
        )

    def observe(
        self,
        drafted: int,
        model_steps: int,
        draft_seconds: float,
        catch_up: float,
        rows: int,
        verify_seconds: float,
        accepted: int,
        checks: list[tuple[float, float]],
    ) -> None:
        """One round's outcome: `checks` are (confidence, chance it was accepted) for every
        drafted token the main model examined (up to and including the first refused one)."""
        self._round_tokens += accepted + 1
        self._discount += catch_up
        for confidence, chance in checks:
            b = self.acc[bucket_of(confidence)]
            b[0] = b[0] * OBS_DECAY + chance
            b[1] = b[1] * OBS_DECAY + 1.0
            self.seen[0] = self.seen[0] * OBS_DECAY + chance
            self.seen[1] = self.seen[1] * OBS_DECAY + 1.0
        if self._round is not None and (drafted or model_steps):
            self._round = ("draft", self._round[1])
        if model_steps > 0:
            self.t_draft = _blend(self.t_draft, draft_seconds / model_steps)
        entry = self.verify.get(rows)
        if entry is None:
            self.verify[rows] = [verify_seconds, 1.0]
        else:
            entry[0] = _blend(entry[0], verify_seconds)
            entry[1] = min(entry[1] * RATE_DECAY + 1.0, 20.0)

    def note(self) -> str | None:
        """Why the draft did not run (or stopped) in this reply, for the user; None if it ran."""
        if self.verdict:
            return self.verdict
        if self.paused_at_start:
            return (
                "Auto did not run the draft: it did not pay on earlier replies on this machine "
                f"(it is tried again {_after(self.replies_left)})."
            )
        return None


def _after(skipped: int) -> str:
    if skipped <= 0:
        return "on the next reply"
    return f"after {skipped} more repl{'y' if skipped == 1 else 'ies'}"


def _blend(old: float | None, new: float) -> float:
    """Exponential average that an outlier (another process taking the CPU) moves little."""
    if old is None or old <= 0:
        return new
    return old + 0.2 * (min(new, 2.0 * old) - old)
