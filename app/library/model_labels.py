"""Names that tell models apart wherever they are listed (the model picker, the draft
dropdown, My Models' default draft, the advisor, the model bar's status line).

A label is the model's name, size and quantization; when two files would read the same, the
folder (publisher/repository) is added, then the file name. The path is for the tooltip. No Qt.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from app.library.compat_index import TRANSLATED_BADGE
from app.library.entry import MLX, ModelEntry
from app.library.server_listing import kind_of


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def display_path(path: str) -> str:
    """A path as a person reads it: under the home folder, as ~/..."""
    try:
        rel = Path(path).relative_to(Path.home())
    except (ValueError, RuntimeError):
        return path
    return str(Path("~") / rel)


def folder_of(e: ModelEntry) -> str:
    """publisher/repository (the key's folders), else the folder the file is in."""
    if "/" in e.key:
        return e.key.rsplit("/", 1)[0]
    return Path(e.path).parent.name or e.source


def file_of(e: ModelEntry) -> str:
    return Path(e.path).name


def short_label(e: ModelEntry) -> str:
    """Name and quantization: enough to tell the builds of one model apart in a title."""
    return " · ".join(x for x in (e.name, e.quantization or e.params_label) if x)


def base_label(e: ModelEntry) -> str:
    parts = [e.name, e.params_label, e.quantization or "", "MLX" if e.engine == MLX else ""]
    return " · ".join(p for p in parts if p)


def distinct_labels(entries: Iterable[ModelEntry]) -> dict[str, str]:
    """key -> a label no other entry shares."""
    entries = list(entries)
    labels = {e.key: base_label(e) for e in entries}
    for extra in (folder_of, file_of):
        groups: dict[str, list[ModelEntry]] = defaultdict(list)
        for e in entries:
            groups[labels[e.key]].append(e)
        for same in groups.values():
            if len(same) > 1:
                for e in same:
                    labels[e.key] = f"{labels[e.key]} · {extra(e)}"
    return labels


def server_state(e: ModelEntry) -> str:
    """Where a model on a server is, and whether the server answered ("" for a local model)."""
    if e.remote is None:
        return ""
    state = "online" if e.remote.online else f"offline ({e.remote.detail})" if e.remote.detail else "offline"
    return f"on {kind_of(e.remote.kind).label} server {e.remote.server}, {state}"


def hover_text(e: ModelEntry, warning: str = "") -> str:
    """The tooltip: where the file is, and why a draft is not a good idea when it is not."""
    if e.remote is not None:
        lines = [e.remote.url, server_state(e)]
    else:
        size = human_size(e.size_bytes)
        lines = [display_path(e.path), f"{e.params_label} parameters · {size} · {e.engine}"]
    if warning:
        lines.append(f"⚠ {warning}")
    return "\n".join(lines)


def warned(label: str, warning: str) -> str:
    return f"⚠ {label}" if warning else label


def translated(label: str, is_translated: bool) -> str:
    """The badge of a draft with another tokenizer (listed after the exact matches)."""
    return f"{TRANSLATED_BADGE} {label}" if is_translated else label


def translation_tip(share: float | None, reason: str) -> str:
    """Tooltip lines for a draft that works through translation: what it means, and why."""
    shared = f"{share:.0%} of its token texts are the main model's too. " if share is not None else ""
    return (
        f"{TRANSLATED_BADGE} Drafts through translation: it has another tokenizer, so its text is "
        "re-tokenized for the main model, which checks every token: the reply is unchanged. "
        f"{shared}Usually less of a speed-up than a draft of the same family.\n{reason}"
    )
