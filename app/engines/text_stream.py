"""Turns token bytes into text events: whole characters only, stop strings cut out.

A character split over several tokens is given to the token that completes it (the earlier
tokens carry empty text), so a piece never holds half a character and each event keeps its
own token's origin. Tokens that might begin a stop string are held back until it is clear
whether they do; markers (rejected drafts, round summaries) wait behind them, so every item
comes out in the order it happened. A stop string drops the text and rejected drafts after
it, never a round summary.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence

from app.core.events import DraftRejected, RoundEvent, TokenEvent, TokenOrigin

Marker = DraftRejected | RoundEvent
Item = TokenEvent | Marker


def _text(item: Item) -> str:
    return item.text if isinstance(item, TokenEvent) else ""


class TokenTextStream:
    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = tuple(s for s in stop if s)
        self._held: list[Item] = []
        self._held_text = ""
        self._round = 0
        self.stopped = False

    def push(self, token_id: int, piece: bytes, origin: TokenOrigin, round: int = 0) -> list[Item]:
        """Feed one token; returns the items that are now safe to show."""
        if self.stopped:
            return []
        self._round = round
        event = TokenEvent(token_id, self._decoder.decode(piece), origin, round)
        if not self._held and not self._stop:
            return [event]
        self._held.append(event)
        self._held_text += event.text
        return self._release()

    def mark(self, marker: Marker) -> list[Item]:
        """A rejected draft or a round summary, in order with the tokens around it."""
        if self.stopped:
            return []
        if not self._held:
            return [marker]
        self._held.append(marker)
        return []

    def finish(self) -> list[Item]:
        """End of generation: flush a dangling partial character and everything held."""
        if self.stopped:
            return []
        tail = self._decoder.decode(b"", final=True)
        if tail:
            tokens = [i for i, ev in enumerate(self._held) if isinstance(ev, TokenEvent)]
            if tokens:
                ev = self._held[tokens[-1]]
                assert isinstance(ev, TokenEvent)
                self._held[tokens[-1]] = TokenEvent(ev.token_id, ev.text + tail, ev.origin, ev.round)
                self._held_text += tail
            else:
                # No held event to attach to: a text-only event after the last token.
                released = [*self._held, TokenEvent(-1, tail, TokenOrigin.MAIN, self._round)]
                self._held, self._held_text = [], ""
                return released
        released, self._held, self._held_text = self._held, [], ""
        return released

    def _release(self) -> list[Item]:
        text = self._held_text
        cut = min((i for i in (text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            return self._take(cut, truncate=True)
        keep = _longest_stop_prefix_suffix(text, self._stop)
        return self._take(len(text) - keep, truncate=False)

    def _take(self, n_chars: int, truncate: bool) -> list[Item]:
        """Release held items whose text lies within the first n_chars characters. With
        `truncate`, the event crossing the boundary is cut there and the rest dropped."""
        out: list[Item] = []
        used = 0
        i = 0
        for ev in self._held:
            if truncate and used >= n_chars:
                break
            end = used + len(_text(ev))
            if end <= n_chars:
                out.append(ev)
                used = end
                i += 1
                continue
            if truncate and isinstance(ev, TokenEvent):
                out.append(TokenEvent(ev.token_id, ev.text[: n_chars - used], ev.origin, ev.round))
            break
        if truncate:
            # the text ends here, but every round happened: its summary still goes out
            out += [ev for ev in self._held[i:] if isinstance(ev, RoundEvent)]
            self._held, self._held_text = [], ""
        else:
            self._held = self._held[i:]
            self._held_text = self._held_text[used:]
        return out


def _longest_stop_prefix_suffix(text: str, stops: Sequence[str]) -> int:
    """Length of the longest suffix of `text` that is a proper prefix of a stop string."""
    best = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:k]):
                best = k
                break
    return best
