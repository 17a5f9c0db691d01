"""Whether a draft can make a main model faster: the one judge every draft list asks.

A draft must be cheaper per token than the main model (its file size is what decoding reads),
and, once *Find the best draft* measured the pair on this computer, faster than no draft. The
measurements come in as `measured` (draft key -> why it was no faster), so a draft that is not
a library model (prompt lookup) is judged by them alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from app.library.entry import ModelEntry
from app.library.model_labels import human_size


def cannot_speed_up(
    key: str,
    main: ModelEntry | None,
    draft: ModelEntry | None,
    measured: Mapping[str, str] | None = None,
) -> str:
    """Why the draft `key` cannot speed `main` up, or "" when nothing speaks against it."""
    if measured and key in measured:
        return measured[key]
    if main is None or draft is None or not (main.size_bytes and draft.size_bytes):
        return ""  # a size a server does not report says nothing
    if draft.size_bytes > main.size_bytes:
        return f"larger than the main model ({human_size(draft.size_bytes)} vs {human_size(main.size_bytes)})"
    if draft.size_bytes == main.size_bytes:
        return "as large as the main model: it cannot make it faster"
    return ""
