"""Code highlighting with Pygments, reduced to a few roles whose colours the theme owns."""

from __future__ import annotations

from bisect import bisect_right
from functools import lru_cache
from typing import Any

from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Keyword, Name, Number, Operator, String, _TokenType
from pygments.util import ClassNotFound

_ROLES: tuple[tuple[_TokenType, str], ...] = (
    (Comment, "comment"),
    (String, "string"),
    (Number, "number"),
    (Keyword, "keyword"),
    (Operator.Word, "keyword"),
    (Name.Decorator, "decorator"),
    (Name.Function, "function"),
    (Name.Class, "function"),
    (Name.Builtin, "builtin"),
)

Ranges = list[tuple[int, int, str]]  # (start, end, role) within one line


@lru_cache(maxsize=1024)
def role_of(ttype: _TokenType) -> str | None:
    for parent, role in _ROLES:
        if ttype in parent:
            return role
    return None


@lru_cache(maxsize=64)
def lexer_for(lang: str) -> Any | None:
    if not lang:
        return None
    try:
        return get_lexer_by_name(lang, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight_lines(lines: list[str], lang: str) -> list[Ranges]:
    """Role ranges for each line of one code block, lexed as a whole (strings and comments
    that span lines come out right)."""
    out: list[Ranges] = [[] for _ in lines]
    lexer = lexer_for(lang)
    if lexer is None or not lines:
        return out
    code = "\n".join(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    for index, ttype, value in lexer.get_tokens_unprocessed(code):
        role = role_of(ttype)
        if role is None or not value:
            continue
        pos, end = index, index + len(value)
        while pos < end:
            row = bisect_right(starts, pos) - 1
            line_end = starts[row] + len(lines[row])
            stop = min(end, line_end)
            if stop > pos:
                out[row].append((pos - starts[row], stop - starts[row], role))
            pos = max(stop, line_end + 1) if stop == line_end else stop
    return out
