"""Why each of the chat's actions cannot run now ("" when it can): the menus, the cards' buttons
and their tooltips all ask here, and the session's own rules decide. No Qt."""

from __future__ import annotations

from app.chat.reply import CONTINUE, EDIT, REGENERATE
from app.chat.session import DELETE, SWITCH_VERSION, ChatSession

ALWAYS = ("rename_chat", "focus_message", "new_chat")
KINDS = {"regenerate": REGENERATE, "continue": CONTINUE, "edit_last": EDIT, "delete_chat": DELETE}


def why_not(session: ChatSession, action: str) -> str:
    """`action`: a window action's name (app/ui/shortcuts.py)."""
    if action == "stop":
        return "" if session.reply is not None else "No reply is being written"
    if action in ("previous_version", "next_version"):
        last = session.last("assistant")
        if last is None or last.versions < 2:
            return "The last reply has one version (Regenerate makes another)"
        edge = last.version == 0 if action == "previous_version" else last.version == last.versions - 1
        return "No other version that way" if edge else session.why_not(SWITCH_VERSION)
    if action == "copy_last":
        return "" if session.last("assistant") else "There is no reply to copy yet"
    if action in ALWAYS:
        return ""
    return session.why_not(KINDS.get(action, action))


def card_reasons(session: ChatSession) -> dict[str, str]:
    """Why a message card's buttons cannot act, by button."""
    return {
        "edit": session.why_not(EDIT),
        "regenerate": session.why_not(REGENERATE),
        "continue": session.why_not(CONTINUE),
        "versions": session.why_not(SWITCH_VERSION),
    }
