"""ChatGPT's export (`conversations.json`, alone or in the export's .zip), read into the
portable form.

Each conversation is a tree: `mapping` holds nodes (`id`, `message`, `parent`, `children`), and
`current_node` is the leaf of the branch the user last saw. That branch, from the root down, is
the conversation; where a reply on it has siblings that are replies too (Regenerate), they
become its versions, the one on the branch shown. Other branches (an edited message) are not
imported. Messages hidden from the conversation, tool calls and non-text parts are left out;
consecutive replies on the branch (a reply after a tool) are one reply.
"""

from __future__ import annotations

from typing import Any

from app.chat.transfer.portable import PortableConversation, PortableMessage, PortableVersion
from app.chat.transfer.specula_json import FormatError

SOURCE = "ChatGPT"
FILE_NAME = "conversations.json"


def is_chatgpt(document: Any) -> bool:
    items = document if isinstance(document, list) else [document]
    return bool(items) and all(isinstance(c, dict) and "mapping" in c for c in items)


def conversations(document: Any) -> list[Any]:
    return document if isinstance(document, list) else [document]


def read(item: Any, index: int) -> PortableConversation:
    if not isinstance(item, dict) or not isinstance(item.get("mapping"), dict):
        raise FormatError("it has no message tree (mapping)")
    mapping: dict[str, Any] = {k: v for k, v in item["mapping"].items() if isinstance(v, dict)}
    branch = _branch(mapping, item.get("current_node"))
    messages: list[PortableMessage] = []
    system = ""
    for node_id in branch:
        node = mapping[node_id]
        said = _said(node)
        if said is None:
            continue
        role, text, created = said
        if role == "system":
            system = "\n\n".join(t for t in (system, text) if t)
        elif role == "assistant" and messages and messages[-1].role == "assistant":
            last = messages[-1].current
            last.content += "\n\n" + text
        elif role == "assistant":
            messages.append(_reply_with_versions(mapping, node_id, text, created))
        else:
            messages.append(PortableMessage(role, [PortableVersion(text, [], None, created)]))
    title = item.get("title")
    return PortableConversation(
        title.strip() if isinstance(title, str) and title.strip() else f"ChatGPT conversation {index + 1}",
        messages,
        _time(item.get("create_time")),
        _time(item.get("update_time")),
        settings={"system_prompt": system} if system else None,
    )


def _branch(mapping: dict[str, Any], current: Any) -> list[str]:
    """Node ids from the root to `current` (or, without it, down the last child each time)."""
    if not isinstance(current, str) or current not in mapping:
        roots = [k for k, n in mapping.items() if n.get("parent") not in mapping]
        if not roots:
            raise FormatError("its message tree has no root")
        current = roots[0]
        seen = {current}
        while True:
            children = [c for c in mapping[current].get("children") or [] if c in mapping and c not in seen]
            if not children:
                break
            current = children[-1]
            seen.add(current)
    path: list[str] = []
    on_path: set[str] = set()  # a loop in a damaged tree ends the walk (in linear time)
    node: Any = current
    while isinstance(node, str) and node in mapping and node not in on_path:
        path.append(node)
        on_path.add(node)
        node = mapping[node].get("parent")
    return path[::-1]


def _said(node: dict[str, Any]) -> tuple[str, str, float | None] | None:
    """(role, text, time) of a node that shows something in the conversation."""
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    author = message.get("author")
    role = author.get("role") if isinstance(author, dict) else None
    metadata = message.get("metadata")
    hidden = isinstance(metadata, dict) and metadata.get("is_visually_hidden_from_conversation")
    if role not in ("user", "assistant", "system") or hidden:
        return None
    if message.get("recipient") not in (None, "all"):  # a call to a tool
        return None
    text = _text(message.get("content"))
    if not text.strip():
        return None
    return str(role), text, _time(message.get("create_time"))


def _text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    kind = content.get("content_type")
    if kind in ("text", "multimodal_text"):
        parts = content.get("parts")
        return "\n\n".join(p for p in parts if isinstance(p, str)) if isinstance(parts, list) else ""
    if kind == "code" and isinstance(content.get("text"), str):
        return f"```\n{content['text']}\n```"
    return ""


def _reply_with_versions(
    mapping: dict[str, Any], node_id: str, text: str, created: float | None
) -> PortableMessage:
    """A reply, with the replies beside it in the tree (regenerations) as its other versions."""
    parent = mapping.get(mapping[node_id].get("parent") or "")
    siblings = [c for c in (parent or {}).get("children") or [] if c in mapping] or [node_id]
    versions: list[PortableVersion] = []
    shown = 0
    for sibling in siblings:
        if sibling == node_id:
            shown = len(versions)
            versions.append(PortableVersion(text, [], None, created))
            continue
        said = _said(mapping[sibling])
        if said is not None and said[0] == "assistant":
            versions.append(PortableVersion(said[1], [], None, said[2]))
    return PortableMessage("assistant", versions, shown)


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
