"""Every keyboard shortcut, declared once: the action, its key, where it works, its menu.

The window's menus and actions are built from this table (`build_actions`), the README's
table is generated from it (`markdown_table`), and a test checks no key is taken twice where
both could fire (a key registered twice in Qt fires neither: "Ambiguous shortcut overload").
Keys handled by the message box itself are listed too, so the table is the whole story.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

WINDOW = "window"
MESSAGE_BOX = "message box"
EDITOR = "editing your message"


@dataclass(frozen=True)
class Shortcut:
    action: str  # the handler's name in build_actions
    title: str  # the menu text ("&" marks the mnemonic)
    keys: str  # QKeySequence text ("" for none)
    where: str  # WINDOW: a menu action, anywhere in the window; else handled by that widget
    menu: str  # "File", "Chat", "View", "Help" ("" for a widget's own key)
    description: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("new_chat", "&New chat", "Ctrl+N", WINDOW, "File", "Start a new conversation"),
    Shortcut("add_folder", "&Add models folder...", "", WINDOW, "File", "Also look for models in a folder"),
    Shortcut(
        "import_model", "&Import model file...", "", WINDOW, "File", "Copy a GGUF file into the library"
    ),
    Shortcut(
        "import_chats",
        "Import c&onversations...",
        "",
        WINDOW,
        "File",
        "Import LM Studio's conversations, ChatGPT's export or Specula's own JSON",
    ),
    Shortcut(
        "export_chat",
        "&Export conversation...",
        "",
        WINDOW,
        "File",
        "Save the conversation shown as Markdown, JSON or an HTML page",
    ),
    Shortcut(
        "export_all",
        "Export a&ll conversations...",
        "",
        WINDOW,
        "File",
        "Save every conversation as Markdown, JSON or an HTML page",
    ),
    Shortcut("rescan", "&Rescan models", "F5", WINDOW, "File", "Look for models again"),
    Shortcut("quit", "&Quit", "Ctrl+Q", WINDOW, "File", "Close Specula (a reply in progress is kept)"),
    Shortcut("choose_model", "Choose a &model...", "Ctrl+L", WINDOW, "Chat", "Open the model picker"),
    Shortcut("stop", "&Stop the reply", "Esc", WINDOW, "Chat", "Stop the reply being written (it is kept)"),
    Shortcut(
        "regenerate",
        "&Regenerate the reply",
        "Ctrl+R",
        WINDOW,
        "Chat",
        "Write the last reply again; the earlier one stays as a version",
    ),
    Shortcut("continue", "&Continue the reply", "Ctrl+Shift+R", WINDOW, "Chat", "Let the last reply go on"),
    Shortcut(
        "edit_last",
        "&Edit your last message",
        "Ctrl+E",
        WINDOW,
        "Chat",
        "Edit your last message in place and resend it",
    ),
    Shortcut(
        "previous_version",
        "Pre&vious version of the reply",
        "Alt+Left",
        WINDOW,
        "Chat",
        "Show the last reply's previous version",
    ),
    Shortcut(
        "next_version", "Ne&xt version of the reply", "Alt+Right", WINDOW, "Chat", "Show its next version"
    ),
    Shortcut(
        "copy_last", "Copy the last re&ply", "Ctrl+Shift+C", WINDOW, "Chat", "Copy the last reply's text"
    ),
    Shortcut("rename_chat", "Re&name conversation...", "F2", WINDOW, "Chat", "Rename the conversation shown"),
    Shortcut(
        "delete_chat",
        "&Delete conversation",
        "Ctrl+Shift+Backspace",
        WINDOW,
        "Chat",
        "Delete the conversation shown (Undo brings it back)",
    ),
    Shortcut(
        "focus_message",
        "Go to the message &box",
        "Ctrl+K",
        WINDOW,
        "Chat",
        "Put the cursor in the message box",
    ),
    Shortcut(
        "toggle_conversations",
        "Show &conversations",
        "Ctrl+Shift+L",
        WINDOW,
        "View",
        "Show or hide the conversations",
    ),
    Shortcut(
        "toggle_settings", "Show &settings", "Ctrl+Shift+S", WINDOW, "View", "Show or hide the settings"
    ),
    Shortcut("about", "&About Specula", "", WINDOW, "Help", "Version, engines, licence"),
    Shortcut("send", "Send", "Return", MESSAGE_BOX, "", "Send the message"),
    Shortcut("new_line", "New line", "Shift+Return", MESSAGE_BOX, "", "Start a new line"),
    Shortcut(
        "focus_next", "Next control", "Tab", MESSAGE_BOX, "", "Leave the message box (to Send, then on)"
    ),
    Shortcut(
        "focus_previous", "Previous control", "Shift+Tab", MESSAGE_BOX, "", "Leave the message box backwards"
    ),
    Shortcut("type_tab", "Type a tab", "Ctrl+Tab", MESSAGE_BOX, "", "Insert a tab character"),
    Shortcut("resend", "Resend", "Return", EDITOR, "", "Send your edited message"),
    Shortcut("cancel_edit", "Cancel", "Esc", EDITOR, "", "Keep your message as it was"),
)
BY_ACTION = {s.action: s for s in SHORTCUTS}
MENUS = ("File", "Chat", "View", "Help")


def conflicts(shortcuts: tuple[Shortcut, ...] = SHORTCUTS) -> list[str]:
    """Keys taken twice where both could fire: twice in the window's actions, or a widget's
    own key that a window action would take first."""
    window = Counter(_norm(s.keys) for s in shortcuts if s.where == WINDOW and s.keys)
    out = [k for k, n in window.items() if n > 1]
    # Esc while editing: the window's Stop only acts (is enabled) while a reply streams,
    # and nothing can be edited then, so both never apply at once.
    out.extend(
        f"{s.keys} ({s.where})"
        for s in shortcuts
        if s.where != WINDOW and s.keys and window.get(_norm(s.keys)) and s.action != "cancel_edit"
    )
    return out


def _norm(keys: str) -> str:
    return QKeySequence(keys).toString(QKeySequence.SequenceFormat.PortableText)


def build_actions(
    window: QMainWindow, handlers: Mapping[str, Callable[[], object]]
) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """One QAction per window shortcut with a handler, in its menu, in the table's order; the
    actions and the menus by name."""
    menus: dict[str, QMenu] = {}
    actions: dict[str, QAction] = {}
    for name in MENUS:
        menus[name] = window.menuBar().addMenu(f"&{name}")
    last_menu_action: dict[str, str] = {}
    for s in SHORTCUTS:
        if s.where != WINDOW or s.action not in handlers:
            continue
        menu = menus[s.menu]
        if s.action == "quit" or (s.menu == "Chat" and last_menu_action.get("Chat") == "choose_model"):
            menu.addSeparator()
        action = QAction(s.title, window)
        action.setObjectName(f"action_{s.action}")
        if s.keys:
            action.setShortcut(QKeySequence(s.keys))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.setStatusTip(s.description)
        action.setToolTip(s.description)
        action.triggered.connect(lambda _c=False, f=handlers[s.action]: f())
        menu.addAction(action)
        actions[s.action] = action
        last_menu_action[s.menu] = s.action
    return actions, menus


def set_why_not(action: QAction, shortcut: Shortcut, why: str) -> None:
    """Disabled with the reason in its tooltip and status tip, or enabled."""
    action.setEnabled(not why)
    text = f"{shortcut.description}: {why}" if why else shortcut.description
    action.setStatusTip(text)
    action.setToolTip(text)


def markdown_table() -> str:
    """The README's shortcut table."""
    rows = ["| Action | Key | Where |", "| --- | --- | --- |"]
    for s in SHORTCUTS:
        if s.keys:
            title = s.title.replace("&", "").removesuffix("...")
            rows.append(f"| {title} | `{s.keys}` | {s.where} |")
    return "\n".join(rows)
