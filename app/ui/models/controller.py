"""Which models the chat runs on: loading from the picker, My Models or a conversation's
offer; the draft (a conversation's own, the last one used, or the model's default draft);
what the status line says; the labels and warnings of every draft list.

At start the pair in use when the app last closed is loaded again, and the status line says
so (or why another was loaded instead). A conversation remembers its pair and settings:
reopening it applies its settings and offers its models when others are loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.chat.store import Conversation
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.bundled import bundled_model_path
from app.library.compat_index import DraftReport
from app.library.entry import ModelEntry
from app.library.model_labels import distinct_labels, draft_warning, hover_text, translation_tip
from app.runtime.advisor import AdviceRecords
from app.ui.app_state import AppState
from app.ui.engine_thread import LoadJob
from app.ui.models.picker import short_label

if TYPE_CHECKING:
    from app.ui.main_window import MainWindow

LOAD_SETTINGS = ("context_length", "gpu_offload")


class ModelController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.w = window
        self.state = AppState()
        self.advice = AdviceRecords()
        self.loaded_key = ""
        self.draft_key = ""  # the draft the worker uses now ("" for none)
        self.labels: dict[str, str] = {}
        self.load_failures: dict[str, str] = {}  # key -> why it did not load (this session)
        self._wanted_draft: str | None = None  # chosen with the model (restore, an offer)
        self._note = ""  # what the status line says once loading is done
        self._restored = False
        w = window.worker
        w.modelLoading.connect(self._on_model_loading)
        w.loadProgress.connect(self._on_load_progress)  # a method: runs in this (the GUI) thread
        w.modelLoaded.connect(self._on_model_loaded)
        w.modelEjected.connect(self._on_model_ejected)
        w.draftChanged.connect(self._on_draft_changed)
        w.draftRejected.connect(self._on_draft_rejected)
        w.loadFailed.connect(self._on_load_failed)
        chat = window.chat
        chat.sidebar.draftSelected.connect(self._on_draft_selected)
        chat.conversationShown.connect(self._on_conversation_shown)
        chat.setup_hint.add_button(
            "load", "Load them", "Load the models this conversation used", self._load_offer
        )
        self._offer: tuple[str, str] | None = None

    # --- names ------------------------------------------------------------------------------------
    def entry(self, key: str) -> ModelEntry | None:
        return self.w.library.entries.get(key) if key else None

    def name(self, key: str) -> str:
        if key == PROMPT_LOOKUP_KEY:
            return PROMPT_LOOKUP_NAME
        e = self.entry(key)
        return short_label(e) if e else ""

    def pair_text(self, main: str, draft: str) -> str:
        m, d = self.name(main) or main, self.name(draft) or draft
        return f"{m} + {d}" if draft else f"{m}, no draft"

    def warnings(self, main_key: str, report: DraftReport) -> dict[str, str]:
        main = self.entry(main_key)
        measured = self.advice.no_faster(main_key)
        out = {o.entry.key: draft_warning(main, o.entry, measured) for o in report.compatible}
        if PROMPT_LOOKUP_KEY in measured:
            out[PROMPT_LOOKUP_KEY] = measured[PROMPT_LOOKUP_KEY]
        return {k: v for k, v in out.items() if v}

    def tooltips(self, report: DraftReport, warnings: dict[str, str]) -> dict[str, str]:
        tips = {o.entry.key: hover_text(o.entry, warnings.get(o.entry.key, "")) for o in report.compatible}
        for o in report.compatible:
            if o.translated:  # a draft with another tokenizer says so, and why
                tips[o.entry.key] += "\n" + translation_tip(o.share, o.reason)
        return tips

    # --- the library ------------------------------------------------------------------------------
    def on_library_scanned(self) -> None:
        w = self.w
        entries = w.library.entries
        self.labels = distinct_labels(entries.values())
        self.load_failures = {k: v for k, v in self.load_failures.items() if k in entries}
        w.models.set_library(entries, w.library.problems, self.load_failures)
        w.model_combo.set_entries(entries.values(), self.loaded_key)
        self.update_pair()
        if self.loaded_key:
            self.say(self._note)
        else:
            self.say(f"{len(entries)} models found. Choose one to load it (Ctrl+L).")
        if w.auto_load and not self.loaded_key and entries and not self._restored:
            self._restored = True
            self.restore_last_pair()

    def restore_last_pair(self) -> None:
        """The pair in use when the app last closed; else the bundled model."""
        entries = self.w.library.entries
        last = self.state.last_pair()
        bundled = next((k for k, e in entries.items() if Path(e.path) == bundled_model_path()), None)
        fallback = bundled or next(iter(sorted(entries)))
        if last is not None and last[0] in entries:
            self._note = f"Loaded {self.pair_text(*last)}, as when you last closed Specula."
            self.load_key(last[0], draft=last[1])
            return
        if last is not None:
            self._note = (
                f"{last[0]} (used last time) is no longer in the library: "
                f"loaded {self.name(fallback) or fallback} instead."
            )
        else:
            self._note = f"Loaded {self.name(fallback) or fallback}."
        self.load_key(fallback)

    def say(self, text: str) -> None:
        self.w.status.setText(text)
        self.w.status.setToolTip(text)

    # --- loading -----------------------------------------------------------------------------------
    def load_key(self, key: str, draft: str | None = None) -> None:
        w = self.w
        entry = self.entry(key)
        if entry is None:
            w.chat.show_error(f"{key} is no longer in the library.")
            return
        if w.chat.busy:
            w.chat.show_error("Stop the current reply before loading another model.")
            return
        self._wanted_draft = draft
        values = w.defaults.effective(key)
        w.model_combo.select(key)
        w.sig_load.emit(
            LoadJob(Path(entry.path), key, int(values["context_length"]), int(values["gpu_offload"]))
        )

    def _on_load_progress(self, fraction: float) -> None:
        self.w.progress.setValue(int(fraction * 100))

    def _on_model_loading(self, key: str) -> None:
        w = self.w
        w.chat.set_model_pair("", "", "", "")
        w.progress.setValue(0)
        w.progress.show()
        self.say(f"Loading {self.name(key) or key}...")
        w.model_combo.setEnabled(False)

    def _on_model_loaded(self, key: str, _name: str) -> None:
        w = self.w
        self.loaded_key = key
        w.progress.hide()
        w.model_combo.setEnabled(True)
        if not self._note or self.name(key) not in self._note:
            self._note = f"Loaded {self.name(key)}."
        self.say(self._note)
        entry = self.entry(key)
        self.draft_key = ""  # loading a model unloads the draft
        self.apply_settings(w.chat.session.conversation)
        w.chat.sidebar.set_engine(entry.engine if entry else "llama.cpp")
        w.chat.sidebar.set_identifying()
        self.update_pair()
        w.modelReady.emit(key)
        w.run_task(lambda _r: w.index.drafts_for(key), self._on_chat_drafts_ready)

    def apply_settings(self, conv: Conversation | None) -> None:
        """The shown conversation's settings when it has its own, else the model's defaults;
        the load settings are always the model's."""
        values = self.w.defaults.effective(self.loaded_key) if self.loaded_key else None
        if values is None:
            return
        if conv is not None and conv.settings:
            values = {**values, **{k: v for k, v in conv.settings.items() if k not in LOAD_SETTINGS}}
        self.w.chat.sidebar.set_values(values)

    def _on_chat_drafts_ready(self, report: DraftReport) -> None:
        w = self.w
        if report.main.key != self.loaded_key:
            return
        wanted = self._wanted_draft
        self._wanted_draft = None
        if wanted is None:
            wanted = self.draft_for(w.chat.session.conversation) or ""
        warnings = self.warnings(report.main.key, report)
        w.chat.sidebar.set_report(report, wanted, self.labels, warnings, self.tooltips(report, warnings))
        w.draftReportReady.emit(report)
        self._on_draft_selected(w.chat.sidebar.selected_draft())
        self._offer_setup(w.chat.session.conversation)

    def draft_for(self, conv: Conversation | None) -> str | None:
        """A conversation's own draft when it ran on this model; else the model's default
        draft from My Models; None when neither says (the current choice stays)."""
        if conv is not None and conv.model_key == self.loaded_key and conv.model_key:
            return conv.draft_key or ""
        default = self.w.defaults.effective(self.loaded_key).get("draft_model")
        return str(default) if default else None

    def refresh_draft_lists(self, key: str) -> None:
        """After the advisor measured `key`: the warnings of its draft lists."""
        if key == self.loaded_key:
            selected = self.w.chat.sidebar.selected_draft()
            self._wanted_draft = selected
            self.w.run_task(lambda _r: self.w.index.drafts_for(key), self._on_chat_drafts_ready)

    def _on_model_ejected(self) -> None:
        w = self.w
        self.loaded_key = ""
        w.progress.hide()
        w.model_combo.setEnabled(True)
        w.chat.sidebar.set_no_model()
        self._note = ""
        self.say("No model loaded")
        w.model_combo.select("")
        self.draft_key = ""
        self.update_pair()

    def _draft_job(self, key: str) -> LoadJob | None:
        if key == PROMPT_LOOKUP_KEY:
            return LoadJob(Path(), key, 0, 0)
        entry = self.entry(key)
        if entry is None:
            return None
        values = self.w.defaults.effective(self.loaded_key)
        return LoadJob(Path(entry.path), key, int(values["context_length"]), int(values["gpu_offload"]))

    def _on_draft_selected(self, key: str) -> None:
        """Queued behind any reply in progress: a switch applies to the next reply."""
        self.w.sig_set_draft.emit(self._draft_job(key))

    def _on_draft_changed(self, key: str) -> None:
        self.draft_key = key
        self.update_pair()
        if self.loaded_key:
            self.state.remember_pair(self.loaded_key, key)
        self.w.draftReady.emit(key)

    def _on_draft_rejected(self, key: str) -> None:
        if self.w.chat.sidebar.selected_draft() == key:
            self.w.chat.sidebar.select_draft("")

    def _on_load_failed(self, key: str, reason: str) -> None:
        """Mark the model in My Models; the app keeps running with nothing loaded."""
        self.load_failures[key] = reason
        self.w.models.set_library(self.w.library.entries, self.w.library.problems, self.load_failures)

    def update_pair(self) -> None:
        """The picker's marks and the chat's 'Main + Draft' line, after any load or draft change."""
        w = self.w
        draft_key = (
            self.draft_key if (self.entry(self.draft_key) or self.draft_key == PROMPT_LOOKUP_KEY) else ""
        )
        w.model_combo.set_loaded(self.loaded_key, draft_key)
        w.eject_button.setEnabled(bool(self.loaded_key))
        w.chat.set_model_pair(self.name(self.loaded_key), self.name(draft_key), self.loaded_key, draft_key)
        main = self.entry(self.loaded_key)
        w.chat.pair_label.setToolTip(hover_text(main) if main else "")

    # --- conversations and their setup ------------------------------------------------------------
    def _on_conversation_shown(self, conv: Conversation | None) -> None:
        if not self.loaded_key or conv is None:
            return
        self.apply_settings(conv)
        sidebar = self.w.chat.sidebar
        if sidebar.draft_combo.isEnabled():  # the report is in: choose this conversation's draft
            wanted = self.draft_for(conv)
            if (
                wanted is not None
                and wanted != sidebar.selected_draft()
                and sidebar.draft_combo.findData(wanted) >= 0
            ):
                sidebar.select_draft(wanted)
        self._offer_setup(conv)

    def _offer_setup(self, conv: Conversation | None) -> None:
        hint = self.w.chat.setup_hint
        self._offer = None
        if conv is None or not conv.model_key or conv.model_key == self.loaded_key:
            hint.hide()
            return
        used = self.pair_text(conv.model_key, conv.draft_key or "")
        if self.entry(conv.model_key) is None:
            hint.buttons["load"].hide()
            hint.say(f"This conversation used {used}, which is no longer in the library.")
            return
        self._offer = (conv.model_key, conv.draft_key or "")
        hint.buttons["load"].show()
        hint.say(f"This conversation used {used}.")

    def _load_offer(self) -> None:
        if self._offer is not None:
            main, draft = self._offer
            self.w.chat.setup_hint.hide()
            self._note = f"Loaded {self.pair_text(main, draft)}, as this conversation used."
            self.load_key(main, draft=draft)

    def on_defaults_changed(self, key: str) -> None:
        """My Models changed a model's defaults: a chat that has not started yet takes them,
        its default draft included."""
        w = self.w
        if key != self.loaded_key or w.chat.busy:
            return
        conv = w.chat.session.conversation
        fresh = conv is None or (not conv.settings and not w.chat.session.messages)
        if fresh:
            w.chat.sidebar.set_values(w.defaults.effective(key))
            wanted = self.draft_for(conv)
            if wanted is not None and w.chat.sidebar.draft_combo.findData(wanted) >= 0:
                w.chat.sidebar.select_draft(wanted)

    def models_page_report(self, report: DraftReport) -> None:
        warnings = self.warnings(report.main.key, report)
        self.w.models.set_draft_report(report, self.labels, warnings, self.tooltips(report, warnings))
