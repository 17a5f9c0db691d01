"""Turns token bytes into text events: whole characters only, stop strings cut out.

A character split over several tokens is given to the token that completes it (the earlier
tokens carry empty text), so a piece never holds half a character and each event keeps its
own token's origin. Tokens that might begin a stop string are held back until it is clear
whether they do.
"""

from __future__ import annotations

import codecs
from collections.abc import Sequence

from app.core.events import TokenEvent, TokenOrigin


class TokenTextStream:
    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = tuple(s for s in stop if s)
        self._held: list[TokenEvent] = []
        self._held_text = ""
        self.stopped = False

    def push(self, token_id: int, piece: bytes, origin: TokenOrigin) -> list[TokenEvent]:
        """Feed one token; returns the events that are now safe to show."""
        if self.stopped:
            return []
        event = TokenEvent(token_id, self._decoder.decode(piece), origin)
        if not self._stop:
            return [event]
        self._held.append(event)
        self._held_text += event.text
        return self._release()

    def finish(self) -> list[TokenEvent]:
        """End of generation: flush a dangling partial character and everything held."""
        if self.stopped:
            return []
        tail = self._decoder.decode(b"", final=True)
        if tail:
            if self._held:
                last = self._held[-1]
                self._held[-1] = TokenEvent(last.token_id, last.text + tail, last.origin)
                self._held_text += tail
            else:
                # No held event to attach to: return a text-only event for the last token.
                return [TokenEvent(-1, tail, TokenOrigin.MAIN)]
        released, self._held, self._held_text = self._held, [], ""
        return released

    def _release(self) -> list[TokenEvent]:
        text = self._held_text
        cut = min((i for i in (text.find(s) for s in self._stop) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            return self._take(cut, truncate=True)
        keep = _longest_stop_prefix_suffix(text, self._stop)
        return self._take(len(text) - keep, truncate=False)

    def _take(self, n_chars: int, truncate: bool) -> list[TokenEvent]:
        """Release held events whose text lies within the first n_chars characters. With
        `truncate`, the event crossing the boundary is cut there and the rest dropped."""
        out: list[TokenEvent] = []
        used = 0
        i = 0
        for ev in self._held:
            if truncate and used >= n_chars:
                break
            end = used + len(ev.text)
            if end <= n_chars:
                out.append(ev)
                used = end
                i += 1
                continue
            if truncate:
                out.append(TokenEvent(ev.token_id, ev.text[: n_chars - used], ev.origin))
            break
        if truncate:
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
