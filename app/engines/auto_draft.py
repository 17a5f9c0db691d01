"""Auto: how much to draft, learned from what drafting measurably gains here.

Every time Auto learns is relative to the main model's own single-token step measured in the
same reply (app/engines/reply_clock.py): a draft step, a verify batch of n rows, a drafting
round. Times measured together keep their ratios when the machine gets busier or quieter, so
what one reply learned holds for the next whatever the load, and nothing is compared with a
figure from another hour. Kept between replies (app/engines/speculation_memory.py):

- **The cutoff, per token.** How often the main model accepts a drafted token, by the draft's
  confidence (its top-token probability, one bucket per level, each starting from that or
  from the model's overall acceptance, whichever is higher; prompt lookup by how strong its
  match is), and what drafting costs: a draft step, and a row in the verify batch (verify
  time against rows, fitted as a line). With g the tokens per plain step drafting rounds
  achieve (at least 1: Dinkelbach's marginal rule, which maximises tokens per second), two
  decisions: the draft model runs once more while the next token is expected to pay for its
  step and its row, P(accept 1..j) x a >= s x (draft step + row), a the overall acceptance
  (the next token's confidence is unknown until its step is paid), s = g sampled and 1
  (plain decoding's speed) greedy; and a token computed is sent while P(accept 1..j) >= g x
  row (its step is spent). A perfect
  cheap draft drafts to Max Draft Size, a poor one a token or two, or none. Where the second
  row of a batch costs far more than the rows after it (a CPU's batched kernel), no first
  token pays alone: it is sent when a run starting with it is expected to beat plain
  decoding. The token the rule refuses is observed too, whenever every sent one was
  accepted (the loop reads from the main model's row whether it would have been): a level
  refused on its priors can still prove itself.
- **Whether to run the draft at all.** A reply's drafting rounds are timed against its plain
  step. When they are slower (clearly, or a little while the learned costs and acceptance do
  not promise a gain either: a few slow rounds on a busy machine must not pause a draft that
  pays), the draft model is paused for the rest of the reply and tried again at the start of
  a later one, after 1, 2, 4, ... up to 16 replies; never on a plain step measured once or
  twice (a busy machine's steps swing by a fifth): the reply measures more first. Prompt
  lookup costs nothing to consult and is never paused: the per-token rule alone decides what
  it sends.

Three modes, chosen when a reply starts: drafting, probing (a paused draft tried again: it
must not lose), paused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

BUCKET_EDGES = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98)  # the draft model's confidence levels
N_MODEL = len(BUCKET_EDGES) + 1
FREE_LEVELS = 7  # proposals without a probability, by clue (drafting.free_confidence): 0-6
N_BUCKETS = N_MODEL + FREE_LEVELS
OBS_DECAY = 0.995  # per observation: a bucket remembers its last few hundred tokens
PRIOR_WEIGHT = 2.0
FREE_EXPLORE = 4.0  # first tokens sent per level before its learned acceptance decides ...
FREE_RETRY = 8  # ... and one in this many refused ones later, so a refused level can recover
RATE_DECAY = 0.9  # per drafting round: the drafting speed follows the last ten or so rounds
COST_BLEND = 0.2  # a new cost measurement moves the learned one this much
MIN_DRAFT_ROUNDS = 4  # drafting rounds in a reply before judging whether the draft pays ...
CONVINCED_ROUNDS = 16  # ... and when the learned costs say it should
PROBE_ROUNDS = 6  # drafting rounds a probing reply gets before its verdict ...
PROBE_EARLY = 2  # ... or this many, when it clearly loses and nothing promises a gain
PAUSE_MARGIN = 0.98  # drafting must keep 98% of the plain speed ...
CLEAR_LOSS = 0.85  # ... and below 85% the measurement alone decides
PROMISE = 1.03  # a predicted gain above this protects a draft from a marginal measurement
DISTURBED = 2.0  # a verify batch this many times slower than learned: the round was disturbed
MAX_REPLY_INTERVAL = 16
VERDICT_PLAIN = 4  # plain steps the reply's unit rests on before a verdict may pause the draft
DRAFT_COST_PRIOR = 0.5  # a draft step, in plain steps, until measured
ROW_COST_PRIOR = 0.05  # one more verify row, in plain steps, until measured
FIRST_ROW_PRIOR = 0.15  # the second row of a batch (the first drafted token), until measured
EXPECTED_PRIOR = 0.9  # a draft model's next token's acceptance, until measured

NO_GAIN = "no gain measured"
NOT_WORTH = "not worth sending"
MEASURING = "measuring speed without the draft"


def bucket_of(confidence: float) -> int:
    if math.isnan(confidence):
        return N_MODEL
    if confidence < 0:  # a free proposal's clue
        return N_MODEL + min(int(-confidence), FREE_LEVELS - 1)
    for i, edge in enumerate(BUCKET_EDGES):
        if confidence < edge:
            return i
    return len(BUCKET_EDGES)


def _prior(bucket: int) -> float:
    if bucket >= N_MODEL:  # free: a longer match, or a reply that copies, is likelier right
        return 0.4 + 0.08 * (bucket - N_MODEL)
    lo = 0.0 if bucket == 0 else BUCKET_EDGES[bucket - 1]
    hi = 1.0 if bucket == len(BUCKET_EDGES) else BUCKET_EDGES[bucket]
    return (lo + hi) / 2


@dataclass(frozen=True)
class RoundTiming:
    """What one round measured, for Auto. Seconds are wall time; `plain_step` is the reply's
    single-token step measured so far (ReplyClock), the unit every cost is learned in."""

    drafted: int  # tokens sent to the main model
    accepted: int
    model_steps: int  # draft model evaluations (0: the draft model did not run)
    draft_seconds: float  # proposing, catch-up excluded
    catch_up: float  # syncing a draft model that skipped rounds
    rows: int  # rows in the verify batch
    verify_seconds: float
    round_seconds: float
    plain_step: float
    checks: list[tuple[float, float]]  # (confidence, chance it was accepted) per examined token
    plain_steps: int = 0  # how many single-token steps `plain_step` is the mean of


class AutoDraft:
    """One reply's Auto: a DraftRule (keep) and the per-round choice (choose, observe)."""

    def __init__(
        self, costly: bool, state: dict[str, Any] | None, lookup_too: bool = False, sampled: bool = False
    ) -> None:
        self.costly = costly  # the source runs a model (a paused model falls behind)
        self.lookup_too = lookup_too  # ... and prompt lookup, which is never paused
        self.sampled = sampled  # temperature above 0: acceptance is min(1, p/q), not a match
        self.acc = [[0.0, 0.0] for _ in range(N_BUCKETS)]  # per level: chances accepted, count
        self.draft_cost: float | None = None  # a draft step, in plain steps
        self.verify: dict[int, list[float]] = {}  # rows -> [plain steps, weight]
        self._fitted: tuple[float, float] | None = None  # _line, until verify changes
        self.gain = [0.0, 0.0]  # drafting rounds: tokens, plain steps (decayed)
        self.seen = [0.0, 0.0]  # the model's drafted tokens: chances accepted, count (decayed)
        self.paused, self.interval, self.replies_left = False, 1, 0
        self._load(state or {})
        self.mode = "draft"
        if self.paused and costly:
            if self.replies_left > 0:
                self.replies_left -= 1
                self.mode = "paused"
            else:
                self.mode, self.paused = "probe", False
        self.paused_at_start = self.mode == "paused"
        self.draft_rounds = 0  # in this reply
        self._reply = [0.0, 0.0]  # this reply's drafting rounds: tokens, seconds
        self._unit = (0.0, 0)  # the reply's plain step, and how many steps it is the mean of
        self._measure = 0  # plain rounds to run before a verdict (a unit of few steps)
        self._p = 1.0  # this round: P(tokens so far accepted)
        self._budget = 16  # this round's most tokens (choose)
        self._refused = [0] * N_BUCKETS
        self._rounds = self._skipped = 0  # rounds observed in this reply, left out as disturbed
        self.verdict = ""  # why the draft was paused in this reply (for the user)

    # --- memory -----------------------------------------------------------------------------
    def _load(self, state: dict[str, Any]) -> None:
        try:
            acc = state.get("accepted")  # ("acc", before, held the priors too: re-learned)
            if isinstance(acc, list) and len(acc) == N_BUCKETS:
                self.acc = [[float(s), float(n)] for s, n in acc]
            if state.get("draft_cost"):
                self.draft_cost = float(state["draft_cost"])
            self.verify = {int(k): [float(v[0]), float(v[1])] for k, v in state.get("verify", {}).items()}
            for name in ("gain", "seen"):
                got = state.get(name)
                if isinstance(got, list) and len(got) == 2:
                    setattr(self, name, [float(x) for x in got])
            self.paused = bool(state.get("paused", False))
            self.interval = int(state.get("interval", 1))
            self.replies_left = int(state.get("replies_left", 0))
        except (TypeError, ValueError, AttributeError, IndexError):
            pass  # a damaged memory is re-learned

    def state(self) -> dict[str, Any]:
        return {
            "accepted": [[round(s, 4), round(n, 4)] for s, n in self.acc],
            "draft_cost": self.draft_cost,
            "verify": {str(k): [round(v[0], 5), round(v[1], 3)] for k, v in sorted(self.verify.items())},
            "gain": [round(x, 4) for x in self.gain],
            "seen": [round(x, 4) for x in self.seen],
            "paused": self.paused,
            "interval": self.interval,
            "replies_left": self.replies_left,
        }

    # --- estimates (in plain steps) -------------------------------------------------------------
    @property
    def model_allowed(self) -> bool:
        return self.mode != "paused" or not self.costly

    def acceptance(self, confidence: float) -> float:
        """A level's acceptance: what it measured, drawn towards a prior while it measured
        little. A draft model's level starts from its confidence or the model's overall
        acceptance, whichever is higher: a draft close to the main model is accepted far more
        often than it is sure of itself (sampled, with chance min(1, p/q), near 1 however
        unsure both are; greedy, a quantized copy picks the main model's argmax 84-96% of
        the time at confidence under 0.3), and priors of the confidence alone kept such a draft's
        runs short until dozens of its tokens had been seen: sampled, a new pair measured
        losing on them and was paused; greedy, its first reply drafted runs of 2-4 tokens
        where every one was accepted. Prompt lookup's levels start from how strong their clue
        is."""
        b = bucket_of(confidence)
        s, n = self.acc[b]
        prior = _prior(b)
        if b < N_MODEL:
            prior = max(prior, self.expected_acceptance())
        return (s + PRIOR_WEIGHT * prior) / (n + PRIOR_WEIGHT)

    def rate(self) -> float:
        """Tokens per plain step that drafting achieves (at least 1: plain decoding's)."""
        tokens, steps = self.gain
        return max(1.0, tokens / steps) if steps > 0 else 1.0

    def _verify_at(self, rows: int) -> float:
        """A verify batch of `rows` rows, in plain steps: measured, else from the priors (the
        prediction's optimism for sizes not tried yet, which the verdict's caution counts on)."""
        if rows in self.verify:
            return self.verify[rows][0]
        one = self.verify.get(1, [1.0])[0]
        return one + FIRST_ROW_PRIOR + ROW_COST_PRIOR * (rows - 2) if rows > 1 else one

    def _batch(self, rows: int) -> float:
        """A verify batch of `rows` rows, in plain steps: measured, else on the fitted line."""
        if rows in self.verify or rows <= 1:
            return self._verify_at(rows)
        at2, slope = self._line()
        return max(self._verify_at(1), at2 + slope * (rows - 2))

    def _line(self) -> tuple[float, float]:
        """Batches of two rows and more lie on a line (each row adds the output layer once
        more): its value at two rows and its slope, fitted to what was measured (weighted),
        the priors until two sizes are."""
        if self._fitted is not None:
            return self._fitted
        one = self.verify.get(1, [1.0])[0]
        pts = [(n, v[0], v[1]) for n, v in self.verify.items() if n >= 2]
        slope, at2 = ROW_COST_PRIOR, one + FIRST_ROW_PRIOR
        if len(pts) >= 2:
            w = sum(p[2] for p in pts)
            mx = sum(p[0] * p[2] for p in pts) / w
            my = sum(p[1] * p[2] for p in pts) / w
            var = sum(p[2] * (p[0] - mx) ** 2 for p in pts)
            if var > 0:
                slope = max(0.0, sum(p[2] * (p[0] - mx) * (p[1] - my) for p in pts) / var)
                at2 = my + slope * (2 - mx)
        elif len(pts) == 1:
            n, v, _ = pts[0]
            at2 = v - ROW_COST_PRIOR * (n - 2)
        self._fitted = (at2, slope)
        return self._fitted

    def row_cost(self, position: int) -> float:
        """What the `position`-th drafted token adds to the verify batch, in plain steps: the
        line's slope, and for the first drafted token the step from one row to two (a CPU
        switching from its single-row kernel costs extra)."""
        at2, slope = self._line()
        if position > 1:
            return slope
        return max(slope, at2 - self._verify_at(1))

    def predicted_gain(self) -> float | None:
        """The speed-up the learned costs and overall acceptance allow at the best draft
        length (Leviathan et al.'s expectation with the measured costs); None until known."""
        if self.draft_cost is None or self.seen[1] < 8:
            return None
        a = min(self.seen[0] / self.seen[1], 0.999)
        one = self._verify_at(1)
        best = 0.0
        for k in range(1, 17):
            cost = 1.0 - one + self._verify_at(k + 1) + k * self.draft_cost  # a round's, in plain steps
            best = max(best, (1 - a ** (k + 1)) / ((1 - a) * cost))
        return best

    # --- the rule (DraftRule) --------------------------------------------------------------------
    @property
    def needs_confidence(self) -> bool:
        return True

    def keep(self, position: int, confidence: float, model_step: bool) -> bool:
        """Send token j while P(tokens 1..j accepted) pays for its verify row at the speed
        drafting achieves: the draft step that computed it is spent already (extend decided
        it). A first token is sent when a run starting with it pays, while its level's
        acceptance is unlearned, and now and then after, so that a level the priors refuse (a
        draft unsure of itself) can prove it pays."""
        if position == 1:
            self._p = 1.0
        b = bucket_of(confidence)
        p = self._p * self.acceptance(confidence)
        if p < self.rate() * self.row_cost(position):
            if position > 1:
                return False
            exploring = self.acc[b][1] < FREE_EXPLORE
            if not ((model_step and self._run_pays(p)) or exploring or self._retry(b)):
                return False
        self._p = p
        return True

    def extend(self, kept: int) -> bool:
        """Run the draft model for one more token while that token is expected to pay for its
        step and its row: P(tokens so far accepted) times the acceptance a token is expected
        to have (its confidence is unknown until the step is paid). Judging the step on the
        token it computes instead (as a cutoff does) stops a run at the first unsure token,
        though greedy the tokens after it are mostly sure ones, and pays a step for every
        token it refuses. Sampled, the step is judged at the speed drafting achieves
        (Dinkelbach's rate, as keep); greedy, at plain decoding's. Greedy, the overall
        acceptance underrates the sure tokens that follow an unsure one, and the rate rule
        cut runs short (0.95x / 0.98x of plain decoding's rule at 64 / 160 tokens on the
        deeper pair, paired reply by reply); sampled, acceptance hardly depends on the
        confidence, and plain decoding's rule ran longer than the best fixed size (the rate
        rule 1.05x / 1.08x faster there)."""
        step = self.draft_cost if self.draft_cost is not None else DRAFT_COST_PRIOR
        speed = self.rate() if self.sampled else 1.0
        return self._p * self.expected_acceptance() >= speed * (step + self.row_cost(kept + 1))

    def expected_acceptance(self) -> float:
        """The chance a draft model's next token is accepted, its confidence unknown: the
        overall acceptance, from an optimistic prior (a new pair is tried; if it does not pay,
        the verdict pauses it)."""
        tokens, count = self.seen
        return min((tokens + EXPECTED_PRIOR * PRIOR_WEIGHT) / (count + PRIOR_WEIGHT), 0.999)

    def _run_pays(self, p: float) -> bool:
        """Whether a run of drafted tokens starting with this one pays, where the first alone
        does not: a verify batch of two rows can cost far more than one (a CPU switching
        from its single-row kernel), a fixed price only a long run amortises. The tokens
        after the first are expected at the model's overall acceptance, each costing a draft
        step, and a run of k the verify batch of k + 1 rows as measured (a line extended back
        to two rows overprices the first row where the measured costs bend); the run is sent
        when its best length gains more tokens than it costs, against plain decoding's speed
        (against drafting's own, which a new run has not reached yet, the best run is a
        knife edge)."""
        tokens, count = self.seen
        if count < PRIOR_WEIGHT + FREE_EXPLORE:
            return False
        a = min(tokens / count, 0.999)
        step = self.draft_cost if self.draft_cost is not None else DRAFT_COST_PRIOR
        one = self._verify_at(1)
        gain, chance = 0.0, p
        for k in range(1, max(1, self._budget) + 1):
            gain += chance
            if gain > self._batch(k + 1) - one + (k - 1) * step:
                return True
            chance *= a
        return False

    def _retry(self, bucket: int) -> bool:
        self._refused[bucket] += 1
        return self._refused[bucket] % FREE_RETRY == 0

    # --- rounds ---------------------------------------------------------------------------------
    def choose(self, budget: int) -> tuple[int, str]:
        """The most tokens to draft this round, and why none (empty when drafting). A paused
        chained source still gets its prompt lookup (`model_allowed` is False then)."""
        self._budget = budget
        if self._measure > 0:
            self._measure -= 1
            return 0, MEASURING
        if self.model_allowed or self.lookup_too:
            return budget, ""
        return 0, NO_GAIN

    def observe(self, t: RoundTiming) -> None:
        """One round's outcome: costs in plain steps, acceptance per examined token, and for
        a round that ran the draft, the verdict on whether drafting pays."""
        unit = t.plain_step
        self._unit = (unit, t.plain_steps)
        for confidence, chance in t.checks:
            b = self.acc[bucket_of(confidence)]
            b[0] = b[0] * OBS_DECAY + chance
            b[1] = b[1] * OBS_DECAY + 1.0
            if confidence >= 0:  # the model's: the overall acceptance the prediction uses
                self.seen[0] = self.seen[0] * OBS_DECAY + chance
                self.seen[1] = self.seen[1] * OBS_DECAY + 1.0
        self._rounds += 1
        if self._disturbed(t):
            return  # it teaches acceptance only
        if t.model_steps > 0:
            self.draft_cost = _blend(self.draft_cost, t.draft_seconds / t.model_steps / unit)
        entry = self.verify.get(t.rows)
        self._fitted = None
        if entry is None:
            self.verify[t.rows] = [t.verify_seconds / unit, 1.0]
        else:
            entry[0] = _blend(entry[0], t.verify_seconds / unit)
            entry[1] = min(entry[1] * RATE_DECAY + 1.0, 20.0)
        if t.drafted or t.model_steps:
            tokens, seconds = t.accepted + 1, max(t.round_seconds - t.catch_up, 1e-9)
            self.gain[0] = self.gain[0] * RATE_DECAY + tokens
            self.gain[1] = self.gain[1] * RATE_DECAY + seconds / unit
            self._reply[0] += tokens
            self._reply[1] += seconds
            if t.model_steps and self.costly:
                self.draft_rounds += 1
                self._judge()

    def _disturbed(self, t: RoundTiming) -> bool:
        """A round whose verify batch took far longer than learned (or than the priors say)
        was slowed by something else: another program, a power state, unless its draft
        steps ran at their usual speed (then the batch truly costs that: a CPU's batched
        kernel can cost several single steps). A minority of such rounds is left out of
        costs and verdict; when they are many, that is the cost. A plain round is never
        left out: its batch is the unit's own step (a value learned in a bad unit, say the
        slow first step after loading, would otherwise keep every later one out)."""
        if t.rows <= 1 or 3 * self._skipped >= self._rounds + 3:
            return False
        if t.verify_seconds / t.plain_step <= DISTURBED * self._verify_at(t.rows):
            return False
        if t.model_steps > 0:
            usual = self.draft_cost if self.draft_cost is not None else DRAFT_COST_PRIOR
            if t.draft_seconds / t.model_steps / t.plain_step <= DISTURBED * usual:
                return False
        self._skipped += 1
        return True

    def _judge(self) -> None:
        """Pause the draft when its rounds in this reply are slower than plain ones: clearly,
        or a little while the learned costs and acceptance do not promise a gain either. A
        new pair's first rounds send short runs on pessimistic priors: until the acceptance
        is known only a clear loss pauses it."""
        n = self.draft_rounds
        tokens, seconds = self._reply
        unit, unit_steps = self._unit
        measured = tokens * unit / seconds if seconds > 0 else 1.0
        predicted = self.predicted_gain()
        promising = predicted is not None and predicted >= PROMISE
        # a probe of a draft that keeps losing clearly, and that nothing learned promises
        # anything for, ends early: each of its rounds costs the reply a draft step or more
        hopeless = self.mode == "probe" and n >= PROBE_EARLY and measured < CLEAR_LOSS and not promising
        if n < (PROBE_ROUNDS if self.mode == "probe" else MIN_DRAFT_ROUNDS) and not hopeless:
            return
        if n < CONVINCED_ROUNDS and (promising or (predicted is None and measured >= CLEAR_LOSS)):
            return  # the model promises a gain, or knows too little yet: measure longer
        losing = measured < CLEAR_LOSS or (measured < PAUSE_MARGIN and not promising)
        if not losing:
            if self.mode == "probe":  # the draft pays again
                self.mode, self.interval = "draft", 1
            return
        if unit_steps < VERDICT_PLAIN:
            # the reply's plain step is the mean of a step or two, on a machine whose steps
            # swing by a fifth: measure it better before pausing a draft on it
            self._measure = VERDICT_PLAIN - unit_steps
            return
        if self.mode == "probe":
            self.interval = min(self.interval * 2, MAX_REPLY_INTERVAL)
        self.mode, self.paused, self.replies_left = "paused", True, self.interval
        self.verdict = (
            f"Auto paused the draft: in this reply drafting ran at {measured:.2f}x the speed "
            f"without it (tried again {_after(self.replies_left)})."
        )

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
    return old + COST_BLEND * (min(new, 2.0 * old) - old)
