"""Which models the chat runs on: the pair loaded (and the model being loaded), what the model
bar says, the drafts the chat offers and the one chosen, the settings the next reply runs with,
and the models a reopened conversation offers.

At start the pair in use when the app last closed is loaded again, and the status line says so
(or why another was loaded instead). A conversation remembers its pair and settings: reopening
it applies its settings and offers its models when others are loaded.

No Qt: the engine thread's news comes in through the `on_*` methods, views connect to `events`
(one event per field, as in app/chat/session.py), and what only the engine thread can do
(loading a model, using a draft) goes out as the `load` and `chosen_draft` events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.chat.draft_choices import DraftChoices, draft_choices
from app.chat.load_job import LoadJob, reload_hint
from app.chat.observable import Event
from app.chat.session import ChatSession
from app.chat.store import Conversation
from app.core.model_settings import MODEL_SETTINGS
from app.engines.drafting import PROMPT_LOOKUP_KEY, PROMPT_LOOKUP_NAME
from app.library.bundled import bundled_model_path
from app.library.compat_index import DraftReport
from app.library.entry import LLAMA_CPP, ModelEntry
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore
from app.library.model_labels import distinct_labels, short_label
from app.runtime.advisor import AdviceRecords

NO_MODEL = "No model loaded"
LOAD_ONLY = frozenset(s.name for s in MODEL_SETTINGS if s.on_load)


class PairMemory(Protocol):
    """Where the last pair used is kept between runs."""

    def last_pair(self) -> tuple[str, str] | None: ...

    def remember_pair(self, model: str, draft: str, /) -> None: ...


@dataclass(frozen=True)
class Offer:
    """The models the conversation shown used, when others are loaded."""

    text: str
    pair: tuple[str, str] | None  # (main, draft) to load; None when the main model is gone


class ModelEvents:
    def __init__(self) -> None:
        self.status = Event("status")  # (text): what the model bar says
        self.loading = Event("loading")  # (key): a model is being loaded ("" when none is)
        self.progress = Event("progress")  # (fraction 0..1): how far a load got
        self.pair = Event("pair")  # (main key, draft key): what the next reply runs on
        self.library = Event("library")  # (): the models found (and their labels) changed
        self.failures = Event("failures")  # (key -> why): models that did not load this session
        self.drafts = Event("drafts")  # (DraftChoices | None): the chat's drafts; None: none yet
        self.chosen_draft = Event("chosen_draft")  # (key): the chat's draft ("" for none)
        self.settings = Event("settings")  # (values): what the chat's next reply runs with
        self.offer = Event("offer")  # (Offer | None): the models the conversation shown used
        self.load = Event("load")  # (LoadJob): a model to load (the engine thread does it)
        self.identify = Event("identify")  # (key): identify the loaded model's drafts again
        self.eject_pending = Event("eject_pending")  # (bool): Eject waits for the reply to end
        self.reload_hint = Event("reload_hint")  # (text): load settings changed since the load ("": none)
        self.problem = Event("problem")  # (text): something the user should read


class ModelState:
    def __init__(
        self,
        library: ModelLibrary,
        defaults: ModelDefaultsStore,
        session: ChatSession,
        memory: PairMemory,
        advice: AdviceRecords | None = None,
    ) -> None:
        self.library = library
        self.defaults = defaults
        self.session = session
        self.memory = memory
        self.advice = advice or AdviceRecords()
        self.events = ModelEvents()
        self.status = NO_MODEL
        self.loading_key = ""
        self.loaded_key = ""
        self.draft_key = ""  # the draft the engine thread uses now ("" for none)
        self.chosen_draft = ""  # the draft chosen for the chat: the engine thread follows it
        self.labels: dict[str, str] = {}  # key -> a label no other model shares
        self.failures: dict[str, str] = {}  # key -> why it did not load (this session)
        self.drafts: DraftChoices | None = None  # for the loaded model, once identified
        self.offer: Offer | None = None
        self._wanted_draft: str | None = None  # chosen with the model (restore, an offer)
        self._note = ""  # what the status line says once loading is done
        self._restored = False
        self.eject_pending = False  # Eject was pressed during a reply: it unloads when that ends
        self.loaded_with: LoadJob | None = None  # the settings the loaded model was loaded with
        self._load_job: LoadJob | None = None  # the load asked for last
        session.models = self  # the one owner of the pair: the session reads it here
        session.events.conversation.connect(self._on_conversation_shown)

    # --- names ------------------------------------------------------------------------------------
    def entry(self, key: str) -> ModelEntry | None:
        """A model on this computer or on a server (never waits for a server)."""
        return self.library.entry(key) if key else None

    def name(self, key: str) -> str:
        if key == PROMPT_LOOKUP_KEY:
            return PROMPT_LOOKUP_NAME
        e = self.entry(key)
        return short_label(e) if e else ""

    def pair_text(self, main: str, draft: str) -> str:
        m, d = self.name(main) or main, self.name(draft) or draft
        return f"{m} + {d}" if draft else f"{m}, no draft"

    @property
    def engine(self) -> str:
        e = self.entry(self.loaded_key)
        return e.engine if e else LLAMA_CPP

    @property
    def busy(self) -> bool:
        return self.session.reply is not None

    def say(self, text: str) -> None:
        self.status = text
        self.events.status.emit(text)

    # --- the library ------------------------------------------------------------------------------
    def on_library_scanned(self, auto_load: bool = False) -> None:
        entries = self.library.all_entries
        self.labels = distinct_labels(entries.values())
        self.failures = {k: v for k, v in self.failures.items() if k in entries}
        self.events.library.emit()
        self._pair_changed()
        if self.loaded_key:
            self.say(self._note)
        elif self.loading_key:
            self.say(f"Loading {self.name(self.loading_key) or self.loading_key}...")
        else:
            self.say(f"{len(entries)} models found. Choose one to load it (Ctrl+L).")
        if auto_load and not self.loaded_key and entries and not self._restored:
            self._restored = True
            self.restore_last_pair()
        if self.loaded_key in entries and not self.loading_key:
            # a folder added or a rescan can bring drafts (or take them away): the chat's
            # draft list is identified again, keeping the draft chosen
            self.keep_choice()
            self.events.identify.emit(self.loaded_key)

    def restore_last_pair(self) -> None:
        """The pair in use when the app last closed; else the bundled model."""
        entries = self.library.all_entries
        last = self.memory.last_pair()
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

    # --- loading ------------------------------------------------------------------------------------
    def load_key(self, key: str, draft: str | None = None) -> None:
        if self.entry(key) is None:
            self.events.problem.emit(f"{key} is no longer in the library.")
            return
        if self.busy:
            self.events.problem.emit("Stop the current reply before loading another model.")
            return
        self._wanted_draft = draft
        job = self._job(key, key)
        assert job is not None
        self._load_job = job
        self.events.load.emit(job)

    def _job(self, key: str, settings_of: str) -> LoadJob | None:
        """`key` loaded with the load settings of `settings_of` (a draft takes its main model's)."""
        entry = self.entry(key)
        if entry is None:
            return None
        values = self.defaults.effective(settings_of)
        return LoadJob(Path(entry.path), key, int(values["context_length"]), int(values["gpu_offload"]))

    def draft_job(self, key: str) -> LoadJob | None:
        """What the engine thread needs to use the draft `key` (None: no draft)."""
        if key == PROMPT_LOOKUP_KEY:
            return LoadJob(Path(), key, 0, 0)
        return self._job(key, self.loaded_key)

    def on_loading(self, key: str) -> None:
        """The engine thread let go of the chat's models and loads `key`."""
        self.loading_key = key
        self.loaded_key = self.draft_key = self.chosen_draft = ""
        self.drafts = None
        self.events.loading.emit(key)
        self.events.progress.emit(0.0)
        self.say(f"Loading {self.name(key) or key}...")
        self.events.drafts.emit(None)
        self._pair_changed()

    def on_progress(self, fraction: float) -> None:
        self.events.progress.emit(fraction)

    def on_loaded(self, key: str) -> None:
        self.loading_key = ""
        self.loaded_key = key
        job = self._load_job
        self.loaded_with = job if job is not None and job.key == key else self._job(key, key)
        self.draft_key = self.chosen_draft = ""  # loading a model unloads the draft
        self.drafts = None  # identifying its drafts (on_drafts)
        self.events.loading.emit("")
        if not self._note or self.name(key) not in self._note:
            self._note = f"Loaded {self.name(key)}."
        self.say(self._note)
        self._apply_settings(self.session.conversation)
        self.events.drafts.emit(None)
        self._pair_changed()
        self._hint_reload()

    def on_load_failed(self, key: str, reason: str) -> None:
        """Marked in My Models; the app keeps running with nothing loaded."""
        self.failures[key] = reason
        self.loading_key = ""
        self.events.loading.emit("")
        self.events.failures.emit(self.failures)
        entry = self.entry(key)
        self.events.problem.emit(f"Could not load {Path(entry.path).name if entry else key}: {reason}")

    def eject(self) -> None:
        """Eject pressed. During a reply the engine thread does it once the reply ends: the
        status says so, and the model bar offers Stop."""
        if self.busy and self.loaded_key:
            self.eject_pending = True
            self.events.eject_pending.emit(True)
            self.say(f"{self.name(self.loaded_key)} unloads when this reply ends (Stop ends it now).")

    def on_ejected(self) -> None:
        self.loading_key = self.loaded_key = self.draft_key = self.chosen_draft = ""
        self.drafts = None
        self.loaded_with = None
        self._hint_reload()
        self._note = ""
        if self.eject_pending:
            self.eject_pending = False
            self.events.eject_pending.emit(False)
        self.events.loading.emit("")
        self.events.drafts.emit(None)
        self.say(NO_MODEL)
        self._pair_changed()

    def _pair_changed(self) -> None:
        draft = self.draft_key if (self.entry(self.draft_key) or self.draft_key == PROMPT_LOOKUP_KEY) else ""
        self.events.pair.emit(self.loaded_key, draft)

    # --- drafts ---------------------------------------------------------------------------------------
    def choices_for(self, report: DraftReport) -> DraftChoices:
        """A main model's drafts as every draft list shows them."""
        return draft_choices(report, self.labels, self.advice.no_faster(report.main.key))

    def on_drafts(self, report: DraftReport) -> None:
        """The loaded model's drafts are identified: choose the one wanted, else the
        conversation's or the model's default draft."""
        if report.main.key != self.loaded_key:
            return
        wanted, self._wanted_draft = self._wanted_draft, None
        if wanted is None:
            wanted = self.draft_for(self.session.conversation) or ""
        self.drafts = self.choices_for(report)
        self.chosen_draft = wanted if self.drafts.offers(wanted) else ""
        self.events.drafts.emit(self.drafts)
        self.events.chosen_draft.emit(self.chosen_draft)
        self._offer_setup(self.session.conversation)

    def keep_choice(self) -> None:
        """The drafts are identified again (after the advisor measured them): keep the draft."""
        self._wanted_draft = self.chosen_draft

    def choose_draft(self, key: str) -> None:
        """Applies to the next reply: the engine thread switches after the one in progress."""
        if key != self.chosen_draft:
            self.chosen_draft = key
            self.events.chosen_draft.emit(key)

    def on_draft_changed(self, key: str) -> None:
        self.draft_key = key
        self._pair_changed()
        if self.loaded_key:
            self.memory.remember_pair(self.loaded_key, key)

    def on_draft_rejected(self, key: str, message: str) -> None:
        """A draft that could not be used: said, and no longer chosen. Never a reply's failure."""
        self.events.problem.emit(message)
        if self.chosen_draft == key:
            self.choose_draft("")

    def draft_for(self, conv: Conversation | None) -> str | None:
        """A conversation's own draft when it ran on this model; else the model's default
        draft from My Models; None when neither says (the current choice stays)."""
        if conv is not None and conv.model_key == self.loaded_key and conv.model_key:
            return conv.draft_key or ""
        default = self.defaults.effective(self.loaded_key).get("draft_model")
        return str(default) if default else None

    # --- settings -------------------------------------------------------------------------------------
    def set_load_values(self, values: dict[str, Any]) -> None:
        """Load settings typed in the chat's sidebar: they are the loaded model's (the same
        values My Models shows), saved as its own and applied when it loads again."""
        if not self.loaded_key:
            return
        self.defaults.update(self.loaded_key, {k: v for k, v in values.items() if k in LOAD_ONLY})
        self._hint_reload()

    def _hint_reload(self) -> None:
        """Says which load settings differ from those the loaded model runs with ("": none)."""
        self.events.reload_hint.emit(
            reload_hint(self.loaded_with, self._job(self.loaded_key, self.loaded_key))
        )

    def reload(self) -> None:
        """Load the model again with its load settings, keeping the draft chosen."""
        if self.loaded_key:
            self._note = f"Loaded {self.name(self.loaded_key)} again with its new load settings."
            self.load_key(self.loaded_key, draft=self.chosen_draft)

    def _apply_settings(self, conv: Conversation | None) -> None:
        """The conversation's settings when it has its own, else the model's defaults; the
        settings applied on load are always the model's."""
        if not self.loaded_key:
            return
        values: dict[str, Any] = self.defaults.effective(self.loaded_key)
        if conv is not None and conv.settings:
            values = {**values, **{k: v for k, v in conv.settings.items() if k not in LOAD_ONLY}}
        self.events.settings.emit(values)

    def on_defaults_changed(self, key: str) -> None:
        """My Models changed a model's defaults: a chat that has not started yet takes them,
        its default draft included; changed load settings are said to apply on reload."""
        if key != self.loaded_key:
            return
        self._hint_reload()
        if self.busy:
            return
        conv = self.session.conversation
        if conv is not None and (conv.settings or self.session.messages):
            return
        self.events.settings.emit(self.defaults.effective(key))
        wanted = self.draft_for(conv)
        if wanted is not None and self.drafts is not None and self.drafts.offers(wanted):
            self.choose_draft(wanted)

    # --- conversations and their setup ------------------------------------------------------------
    def _on_conversation_shown(self, _cid: int | None) -> None:
        """A conversation's own settings are shown with it; a new chat goes on with the
        settings shown (Max Tokens typed a moment ago stays), and takes the model's default
        draft."""
        conv = self.session.conversation
        if self.loaded_key and conv is not None:
            if conv.settings or conv.model_key or self.session.messages:
                self._apply_settings(conv)
            wanted = self.draft_for(conv)
            if wanted is not None and self.drafts is not None and self.drafts.offers(wanted):
                self.choose_draft(wanted)
        self._offer_setup(conv)

    def _offer_setup(self, conv: Conversation | None) -> None:
        offer = None
        if conv is not None and conv.model_key and self.loaded_key and conv.model_key != self.loaded_key:
            used = self.pair_text(conv.model_key, conv.draft_key or "")
            if self.entry(conv.model_key) is None:
                offer = Offer(f"This conversation used {used}, which is no longer in the library.", None)
            else:
                offer = Offer(f"This conversation used {used}.", (conv.model_key, conv.draft_key or ""))
        self.offer = offer
        self.events.offer.emit(offer)

    def load_offer(self) -> None:
        if self.offer is None or self.offer.pair is None:
            return
        main, draft = self.offer.pair
        self.offer = None
        self.events.offer.emit(None)
        self._note = f"Loaded {self.pair_text(main, draft)}, as this conversation used."
        self.load_key(main, draft=draft)
