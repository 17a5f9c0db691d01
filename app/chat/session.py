"""The chat's one source of truth: which conversation is shown, its messages, the reply in
flight (and the conversation it belongs to), the model pair the next reply runs on, and
what each action would do now, or why it cannot.

No Qt: the views connect to `events` (one event per field) and call the methods; every action
targets the conversation shown. A reply belongs to the conversation it was started in: the
user may read (or start) another one meanwhile, and the reply still commits where it began.
What a reply replaces (a regenerated reply, an edited exchange) is replaced in the same
transaction that commits the new one. A reply the disk has no room for is kept (`unsaved`) and
shown in its place until `save_unsaved` stores it; nothing else replies meanwhile, so nothing
can be read or written past it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.chat.observable import Event
from app.chat.reply import CONTINUE, EDIT, REGENERATE, SEND, UNSAVED, Reply, Unsaved
from app.chat.store import ChatStore, Conversation, ConversationUnreadableError, StoredMessage, StoreFullError

log = logging.getLogger(__name__)

DELETE, SWITCH_VERSION = "delete", "switch_version"
NEW_TITLE = "New chat"
TITLE_CHARS = 40
WAIT_FOR_SAVE = "Wait until the last reply is saved (the disk is full: free some space)"


class PairSource(Protocol):
    """The one owner of the model pair the chat runs on (the model state): the session reads
    it, never keeps a copy."""

    @property
    def loaded_key(self) -> str: ...  # the main model loaded ("" when none)

    @property
    def chosen_draft(self) -> str: ...  # the draft the next reply runs on ("" for none)

    @property
    def draft_key(self) -> str: ...  # the draft the engine thread uses now ("" for none)

    def name(self, key: str) -> str: ...  # a model as the user knows it


@dataclass
class FixedPair:
    """A pair that changes only when told: a session without a model state (tests, tools)."""

    loaded_key: str = ""
    chosen_draft: str = ""
    names: dict[str, str] = field(default_factory=dict)

    @property
    def draft_key(self) -> str:
        return self.chosen_draft

    def name(self, key: str) -> str:
        return self.names.get(key, key)


class SessionEvents:
    def __init__(self) -> None:
        self.conversation = Event("conversation")  # (id or None): another conversation is shown
        self.messages = Event("messages")  # (): the shown conversation's messages changed
        self.conversations = Event("conversations")  # (): the list (titles, order, deletions)
        self.reply = Event("reply")  # (Reply or None): a reply started or ended
        self.problem = Event("problem")  # (text): something the user should read
        self.deleted = Event("deleted")  # (id, title): a conversation deleted, undoable
        self.unsaved = Event("unsaved")  # (Unsaved or None): a reply the disk had no room for


class ChatSession:
    def __init__(self, store: ChatStore, models: PairSource | None = None) -> None:
        self.store = store
        self.models: PairSource = models or FixedPair()  # the model state, once it exists
        self.events = SessionEvents()
        self.conversation_id: int | None = None
        self.conversation: Conversation | None = None
        self.messages: list[StoredMessage] = []
        self.reply: Reply | None = None
        self.unsaved: Unsaved | None = None
        self.last_deleted: tuple[int, str] | None = None

    # --- the conversation shown ---------------------------------------------------------------
    def open(self, conversation_id: int) -> None:
        self.conversation_id = conversation_id
        self.conversation = self.store.conversation(conversation_id)
        self._load_messages()
        self.events.conversation.emit(conversation_id)
        self.events.messages.emit()
        note = self.store.damage_note(conversation_id)
        if note:
            self.events.problem.emit(note)

    def _load_messages(self) -> None:
        if self.conversation_id is None:
            self.messages = []
            return
        try:
            self.messages = self.store.messages(self.conversation_id)
        except ConversationUnreadableError as exc:  # shown in its place; the others still open
            self.messages = []
            self.events.problem.emit(str(exc))
        u = self.unsaved
        if u is not None and u.reply.conversation_id == self.conversation_id:
            self.messages = u.placed(self.messages)

    def open_latest_or_new(self) -> None:
        convs = self.store.conversations()
        if convs:
            self.open(convs[0].id)
        else:
            self.new()

    def new(self) -> int | None:
        """A new chat, shown; an empty one already there is reused (pressing Ctrl+N twice starts
        one chat, not a pile of empty ones). None (and a problem said) when the disk has no room."""
        empty = self._empty_new_chat()
        if empty is not None:
            if empty != self.conversation_id:
                self.open(empty)
            return empty
        try:
            cid = self.store.create_conversation(NEW_TITLE)
        except StoreFullError as exc:
            self.events.problem.emit(f"A new chat cannot be saved: {exc}.")
            return None
        self.events.conversations.emit()
        self.open(cid)
        return cid

    def _empty_new_chat(self) -> int | None:
        """The newest untitled conversation with nothing in it (no message, no setup of its own)
        and no reply on its way."""
        for conv in self.store.conversations():
            if conv.title != NEW_TITLE or conv.model_key or conv.settings:
                continue
            if self.reply is not None and self.reply.conversation_id == conv.id:
                continue
            try:
                if not self.store.messages(conv.id):
                    return conv.id
            except ConversationUnreadableError:
                continue
        return None

    def _stored(self, action: str, write: Any) -> bool:
        """Run a store write for `action`; a full disk is said, not raised."""
        try:
            write()
        except StoreFullError as exc:
            self.events.problem.emit(f"Could not {action}: {exc}.")
            return False
        return True

    def rename(self, title: str) -> None:
        cid = self.conversation_id
        if (
            cid is not None
            and title.strip()
            and self._stored("rename it", lambda: self.store.rename(cid, title))
        ):
            self.conversation = self.store.conversation(cid)
            self.events.conversations.emit()

    @property
    def title(self) -> str:
        return self.conversation.title if self.conversation else ""

    @property
    def replying_here(self) -> bool:
        return self.reply is not None and self.reply.conversation_id == self.conversation_id

    @property
    def replying_elsewhere(self) -> bool:
        return self.reply is not None and self.reply.conversation_id != self.conversation_id

    def delete(self) -> int | None:
        """Delete the conversation shown (undoable until the app closes); show the newest."""
        if self.why_not(DELETE) or self.conversation_id is None:
            return None
        cid, title = self.conversation_id, self.title
        if not self._stored("delete it", lambda: self.store.delete(cid)):
            return None
        self.last_deleted = (cid, title)
        self.events.conversations.emit()
        self.events.deleted.emit(cid, title)
        self.open_latest_or_new()
        return cid

    def undo_delete(self) -> None:
        if self.last_deleted is None:
            return
        cid, _title = self.last_deleted
        if not self._stored("bring it back", lambda: self.store.undelete(cid)):
            return
        self.last_deleted = None
        self.events.conversations.emit()
        self.open(cid)

    def remember_setup(self, settings: dict[str, Any] | None) -> None:
        """The pair and settings the shown conversation now runs on (offered when reopened)."""
        if self.conversation_id is None:
            return
        m = self.models
        try:
            self.store.remember_setup(
                self.conversation_id, m.loaded_key or None, m.chosen_draft or None, settings
            )
        except StoreFullError as exc:  # remembered with the next write that fits
            log.warning("could not remember what the conversation runs on: %s", exc)
        self.conversation = self.store.conversation(self.conversation_id)

    def ran_on(self, reply: Reply, model_key: str, draft_key: str) -> None:
        """The engine thread says which pair `reply` runs on: its conversation remembers that
        pair (a draft switched just before it may not be the one chosen when it was sent)."""
        conv = self.store.conversation(reply.conversation_id)
        if conv is None or (conv.model_key or "", conv.draft_key or "") == (model_key, draft_key):
            return
        try:
            self.store.remember_setup(
                reply.conversation_id, model_key or None, draft_key or None, conv.settings
            )
        except StoreFullError as exc:  # remembered with the next write that fits
            log.warning("could not remember what the conversation ran on: %s", exc)
        if reply.conversation_id == self.conversation_id:
            self.conversation = self.store.conversation(reply.conversation_id)

    # --- what can be done now ------------------------------------------------------------------
    def last(self, role: str) -> StoredMessage | None:
        return next((m for m in reversed(self.messages) if m.role == role), None)

    def why_not(self, action: str) -> str:
        """Why `action` cannot run on the conversation shown now ("" when it can)."""
        reply = self.reply
        unsaved = self.unsaved
        if unsaved is not None and (
            action not in (DELETE, SWITCH_VERSION) or unsaved.reply.conversation_id == self.conversation_id
        ):
            return WAIT_FOR_SAVE
        if action == DELETE:
            return "A reply is being written here: stop it first (Esc)" if self.replying_here else ""
        if action == SWITCH_VERSION:
            return "Wait for the reply to finish, or stop it (Esc)" if self.replying_here else ""
        if reply is not None:
            if reply.conversation_id == self.conversation_id:
                return "Wait for the reply to finish, or stop it (Esc)"
            return f"A reply is being written in “{reply.title}”: wait for it, or stop it (Esc)"
        if not self.models.loaded_key:
            return "Load a model first (Ctrl+L)"
        if self.conversation_id is None and action != SEND:  # sending starts one
            return "Start a new chat first (Ctrl+N)"
        last = self.messages[-1] if self.messages else None
        if action in (REGENERATE, CONTINUE) and (last is None or last.role != "assistant"):
            return "There is no reply to " + ("regenerate" if action == REGENERATE else "continue") + " yet"
        if action == EDIT and self.last("user") is None:
            return "There is no message of yours to edit yet"
        return ""

    # --- replies -----------------------------------------------------------------------------------
    def begin(self, kind: str, text: str = "", settings: dict[str, Any] | None = None) -> Reply:
        """Start a reply in the conversation shown. SEND stores the user's message now (it is
        never lost); everything a reply replaces stays until `commit`."""
        why = self.why_not(kind)
        if kind == SEND and not why and not text.strip():
            why = "Type a message first"
        if why:
            raise ValueError(why)
        if self.conversation_id is None and self.new() is None:
            raise ValueError("The disk is full: a new chat cannot be saved. Free some space and send again.")
        assert self.conversation_id is not None
        cid = self.conversation_id
        if kind == SEND:
            first = not self.messages and self.title == NEW_TITLE
            title = text.strip().splitlines()[0][:TITLE_CHARS] if first else None
            user = StoredMessage("user", text)
            try:
                self.store.add_message(cid, user, title)
            except StoreFullError:  # kept with the reply: both are stored together once there is room
                reply = Reply(cid, kind, title or self.title, unsaved_user=user, new_title=title)
            else:
                self.conversation = self.store.conversation(cid)
                reply = Reply(cid, kind, self.title)
            self.messages.append(user)
            reply.context = list(self.messages)
            self.events.conversations.emit()
        elif kind == REGENERATE:
            target = self.messages[-1]
            reply = Reply(cid, kind, self.title, target, context=self.messages[:-1])
        elif kind == CONTINUE:
            target = self.messages[-1]
            reply = Reply(cid, kind, self.title, target, context=list(self.messages))
        elif kind == EDIT:
            mine = self.last("user")
            assert mine is not None
            at = next(i for i, m in enumerate(self.messages) if m is mine)
            edited = StoredMessage("user", text, id=mine.id)
            reply = Reply(cid, kind, self.title, mine, text, context=[*self.messages[:at], edited])
        else:
            raise ValueError(f"unknown reply kind {kind!r}")
        self.remember_setup(settings)
        self.reply = reply
        self.events.reply.emit(reply)
        self.events.messages.emit()
        return reply

    def commit(self, message: StoredMessage) -> StoredMessage:
        """The reply ended with something to keep: store it where it began, replacing what it
        replaces in the same transaction."""
        reply = self.reply
        if reply is None:
            raise ValueError("no reply in flight")
        try:
            self._store_reply(reply, message)
        except StoreFullError as exc:  # kept, shown, and stored by save_unsaved once there is room
            log.warning("%s: %s", UNSAVED, exc)
            self.unsaved = Unsaved(reply, message, str(exc))
            self.events.unsaved.emit(self.unsaved)
        finally:
            self._end(reply)
        return message

    def _store_reply(self, reply: Reply, message: StoredMessage) -> None:
        if reply.kind == SEND:
            if reply.unsaved_user is not None:
                self.store.add_exchange(reply.conversation_id, reply.unsaved_user, message, reply.new_title)
            else:
                self.store.add_message(reply.conversation_id, message)
        elif reply.kind == REGENERATE:
            assert reply.target is not None
            self.store.add_version(reply.target, message)
        elif reply.kind == CONTINUE:
            assert reply.target is not None
            message.id = reply.target.id
            message.version, message.versions = reply.target.version, reply.target.versions
            self.store.update_message(message)
        else:
            assert reply.target is not None
            self.store.replace_exchange(reply.target, reply.edited_text, message)

    def save_unsaved(self) -> bool:
        """Store the reply the disk had no room for; False (and it stays kept) while it still
        has none."""
        u = self.unsaved
        if u is None:
            return True
        try:
            self._store_reply(u.reply, u.message)
        except StoreFullError as exc:
            u.why = str(exc)
            return False
        self.unsaved = None
        if u.reply.conversation_id == self.conversation_id:
            self.conversation = self.store.conversation(u.reply.conversation_id)
            self._load_messages()
        self.events.unsaved.emit(None)
        self.events.messages.emit()
        self.events.conversations.emit()
        return True

    def abandon(self) -> Reply | None:
        """The reply ended with nothing to keep: everything stays as it was. A message sent on
        a full disk is stored now if it fits; if not, its `unsaved_user` stays set (the window
        puts the words back in the message box) and the problem is said."""
        reply = self.reply
        if reply is None:
            return None
        user = reply.unsaved_user
        if user is not None:
            try:
                self.store.add_message(reply.conversation_id, user, reply.new_title)
            except StoreFullError as exc:
                self.events.problem.emit(
                    f"No reply came and your message could not be saved ({exc}): it is back in the "
                    "message box."
                )
            else:
                reply.unsaved_user = None
                if reply.conversation_id == self.conversation_id:
                    self.conversation = self.store.conversation(reply.conversation_id)
        self._end(reply)
        return reply

    def _end(self, reply: Reply) -> None:
        self.reply = None
        if reply.conversation_id == self.conversation_id:
            self._load_messages()
        self.events.reply.emit(None)
        self.events.messages.emit()
        self.events.conversations.emit()

    def select_version(self, message_id: int, version: int) -> None:
        if self.why_not(SWITCH_VERSION):
            return
        if not self._stored("show that version", lambda: self.store.select_version(message_id, version)):
            return
        self._load_messages()
        self.events.messages.emit()
