"""The window's menus: one action per shortcut in the registry (app/ui/shortcuts.py), bound to
what it does on the chat page, the conversation transfer and the window; the View menu's
Theme choice; and every chat action enabled only when it can act, saying why when it cannot."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMainWindow, QMenu

from app.ui.chat.page import ChatPage
from app.ui.chat.transfer import ConversationTransfer
from app.ui.dialogs import show_about
from app.ui.shortcuts import BY_ACTION, build_actions, set_why_not
from app.ui.theme.theming import THEME_CHOICES, ThemeManager


class WindowMenus(QObject):
    def __init__(
        self,
        window: QMainWindow,
        chat: ChatPage,
        transfer: ConversationTransfer,
        themes: ThemeManager,
        window_handlers: Mapping[str, Callable[[], object]],
    ) -> None:
        """`window_handlers`: the actions only the window can do (the library, the model bar)."""
        super().__init__(window)
        self.chat = chat
        handlers: dict[str, Callable[[], object]] = {
            "new_chat": chat.new_conversation,
            "import_chats": transfer.ask_import,
            "export_chat": lambda: transfer.ask_export(
                [chat.conversation_id] if chat.conversation_id is not None else []
            ),
            "export_all": lambda: transfer.ask_export(None),
            "quit": window.close,
            "stop": chat.stop,
            "regenerate": chat.commands.regenerate,
            "continue": chat.commands.continue_reply,
            "edit_last": chat.commands.edit_last,
            "previous_version": lambda: chat.commands.show_version(-1),
            "next_version": lambda: chat.commands.show_version(1),
            "copy_last": chat.commands.copy_last_reply,
            "rename_chat": chat.rename_conversation,
            "delete_chat": chat.delete_conversation,
            "focus_message": chat.focus_message,
            "toggle_conversations": chat.conversations_toggle.toggle,
            "toggle_settings": chat.sidebar_toggle.toggle,
            "about": lambda: show_about(window),
            **window_handlers,
        }
        actions, menus = build_actions(window, handlers)
        self.actions: dict[str, QAction] = actions
        view_menu = menus["View"]
        theme_menu = QMenu("&Theme", view_menu)
        view_menu.insertMenu(self.actions["toggle_conversations"], theme_menu)
        group = QActionGroup(window)
        self.theme_actions: dict[str, QAction] = {}
        for choice, title in THEME_CHOICES:
            action = theme_menu.addAction(title)
            action.setCheckable(True)
            action.setChecked(themes.choice == choice)
            action.triggered.connect(lambda _c=False, c=choice: themes.set_choice(c))
            group.addAction(action)
            self.theme_actions[choice] = action
        chat.stateChanged.connect(self.update_actions)
        self.update_actions()

    def update_actions(self) -> None:
        """Every chat action enabled only when it can act, saying why when it cannot."""
        for name, action in self.actions.items():
            if BY_ACTION[name].menu == "Chat" and name != "choose_model":
                set_why_not(action, BY_ACTION[name], self.chat.why_not(name))
