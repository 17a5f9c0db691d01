"""One message as the transcript shows it: text, and for each character where it came from.

Per character: its origin (main model or accepted draft) and the round (verify step) that
produced it, kept as run-length runs that grow at the end in O(1); plus what the draft
proposed and lost, at the offset where it was refused; and for a reply, its ReplyStats
(typed: the stored dict is read once, in `from_stored`, and written once, in
`stats_for_storage`). Origins are stored in the message's runs column; rounds and rejected
drafts travel inside its stats JSON (`token_rounds`, `rejected_drafts`), so the table schema
does not change. No Qt here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import Any

from app.chat.reply_stats import ReplyStats
from app.chat.stream_batch import MAIN, REJECTED, Piece

ROUNDS_KEY = "token_rounds"
REJECTED_KEY = "rejected_drafts"

Segment = tuple[int, int, str, "int | None"]  # (start, end, origin, round) in the text


class RunIndex:
    """Values over consecutive character runs; appending extends the last run when equal."""

    __slots__ = ("starts", "total", "values")

    def __init__(self, runs: Iterable[tuple[int, Any]] = ()) -> None:
        self.starts: list[int] = []
        self.values: list[Any] = []
        self.total = 0
        for n, value in runs:
            self.append(int(n), value)

    def append(self, n: int, value: Any) -> None:
        if n <= 0:
            return
        if not self.values or self.values[-1] != value:
            self.starts.append(self.total)
            self.values.append(value)
        self.total += n

    def runs(self) -> list[list[Any]]:
        ends = [*self.starts[1:], self.total]
        return [[e - s, v] for s, e, v in zip(self.starts, ends, self.values, strict=True)]

    def between(self, a: int, b: int, default: Any = None) -> Iterator[tuple[int, int, Any]]:
        """(start, end, value) pieces covering [a, b); `default` past the last run."""
        i = max(0, bisect_right(self.starts, a) - 1)
        pos = a
        while pos < b:
            if i >= len(self.starts) or pos >= self.total:
                yield pos, b, default
                return
            run_end = self.starts[i + 1] if i + 1 < len(self.starts) else self.total
            if run_end <= pos:
                i += 1
                continue
            start = max(pos, self.starts[i])
            if start > pos:  # before the first run
                yield pos, start, default
            end = min(b, run_end)
            yield start, end, self.values[i]
            pos = end
            i += 1


class MessageView:
    def __init__(
        self,
        role: str,
        text: str = "",
        origins: Iterable[Iterable[Any]] = (),
        stats: ReplyStats | None = None,
        rounds: Iterable[Iterable[Any]] = (),
        rejected: Iterable[Iterable[Any]] = (),
    ) -> None:
        self.role = role
        self.text = text
        self.stats = stats
        self.id: int | None = None  # the stored message, once committed
        self.version = 0  # which version of a regenerated reply this is ...
        self.versions = 1  # ... of how many
        self._origins = RunIndex((int(n), str(o)) for n, o in origins)
        self._rounds = RunIndex((int(n), None if r is None else int(r)) for n, r in rounds)
        self.rejected: list[tuple[int, int, str]] = [(int(o), int(r), str(t)) for o, r, t in rejected]
        self._rejected_at = [o for o, _, _ in self.rejected]
        # an engine that does not report rounds gives every token round 0: then say nothing
        self.max_round = max((r for r in self._rounds.values if r is not None), default=0)

    @classmethod
    def from_stored(
        cls,
        role: str,
        content: str,
        origins: Iterable[Iterable[Any]],
        stored: dict[str, Any] | None,
        id: int | None = None,
        version: int = 0,
        versions: int = 1,
    ) -> MessageView:
        """A stored message: `stored` is its stats column (ReplyStats' dict and the extras)."""
        extra = stored if isinstance(stored, dict) else {}
        stats = ReplyStats.from_dict(extra)
        rounds = extra.get(ROUNDS_KEY) or []
        rejected = extra.get(REJECTED_KEY) or []
        try:
            m = cls(role, content, origins, stats, rounds, rejected)
        except (TypeError, ValueError):  # a damaged extra: show the text and its origins
            m = cls(role, content, origins, stats)
        m.id, m.version, m.versions = id, version, versions
        return m

    # --- reading -------------------------------------------------------------------------------
    @property
    def origins(self) -> list[list[Any]]:
        return self._origins.runs()

    @property
    def rounds(self) -> list[list[Any]]:
        return self._rounds.runs()

    @property
    def has_rounds(self) -> bool:
        return any(v is not None for v in self._rounds.values)

    def segments(self, a: int, b: int) -> list[Segment]:
        """(start, end, origin, round) covering [a, b): where origin or round changes."""
        out: list[Segment] = []
        for s, e, origin in self._origins.between(a, b, MAIN):
            for s2, e2, rnd in self._rounds.between(s, e, None):
                out.append((s2, e2, origin, rnd))
        return out

    def rejected_between(self, a: int, b: int) -> list[tuple[int, int, str]]:
        """Rejected proposals refused at offsets a..b (both included)."""
        return self.rejected[bisect_left(self._rejected_at, a) : bisect_right(self._rejected_at, b)]

    def stats_for_storage(self) -> dict[str, Any] | None:
        """The stats with this message's rounds and rejected drafts, for the store."""
        if self.stats is None and not self.has_rounds and not self.rejected:
            return None
        out: dict[str, Any] = self.stats.to_dict() if self.stats is not None else {}
        if self.has_rounds:
            out[ROUNDS_KEY] = self.rounds
        if self.rejected:
            out[REJECTED_KEY] = [list(r) for r in self.rejected]
        return out

    # --- growing -------------------------------------------------------------------------------
    def append(self, pieces: Iterable[Piece]) -> None:
        texts: list[str] = []
        size = len(self.text)
        # text from before runs were kept (an old message being continued): pad it
        self._origins.append(size - self._origins.total, MAIN)
        if self._rounds.total < size:
            self._rounds.append(size - self._rounds.total, None)
        for text, kind, rnd in pieces:
            if kind == REJECTED:
                self.rejected.append((size, rnd, text))
                self._rejected_at.append(size)
                continue
            n = len(text)
            self.max_round = max(self.max_round, rnd)
            self._origins.append(n, kind)
            self._rounds.append(n, rnd)
            texts.append(text)
            size += n
        if texts:
            self.text += "".join(texts)
