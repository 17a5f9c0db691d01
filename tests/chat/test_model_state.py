"""Which models the chat runs on, without a window: the model state on a real library of tiny
models, the engine thread's news played in by hand, every view's news read from its events."""

from __future__ import annotations

from typing import Any

import pytest

from app.chat.load_job import LoadJob
from app.chat.model_state import ModelState
from app.chat.reply import SEND
from app.chat.session import ChatSession
from app.chat.store import ChatStore
from app.core import model_settings
from app.engines.drafting import PROMPT_LOOKUP_KEY
from app.library.compat_index import CompatibilityIndex
from app.library.library import ModelLibrary
from app.library.model_defaults import ModelDefaultsStore


class Memory:
    def __init__(self, pair: tuple[str, str] | None = None) -> None:
        self.pair = pair

    def last_pair(self) -> tuple[str, str] | None:
        return self.pair

    def remember_pair(self, model: str, draft: str, /) -> None:
        self.pair = (model, draft)


class Setup:
    def __init__(self, memory: Memory) -> None:
        self.library = ModelLibrary()
        self.library.rescan()
        self.index = CompatibilityIndex(self.library)
        self.store = ChatStore()
        self.session = ChatSession(self.store)
        self.defaults = ModelDefaultsStore()
        self.memory = memory
        self.state = ModelState(self.library, self.defaults, self.session, memory)
        self.seen: list[tuple[str, tuple[Any, ...]]] = []
        for name, event in vars(self.state.events).items():
            event.connect(lambda *args, _n=name: self.seen.append((_n, args)))

    def last(self, name: str) -> tuple[Any, ...]:
        return next(args for n, args in reversed(self.seen) if n == name)

    def names(self) -> list[str]:
        return [n for n, _ in self.seen]

    def load(self, key: str) -> None:
        """What the engine thread says while it loads `key`, and the drafts identified."""
        self.state.on_loading(key)
        self.state.on_loaded(key)
        self.state.on_drafts(self.index.drafts_for(key))


@pytest.fixture
def setup(library_models):
    s = Setup(Memory())
    yield s
    s.store.close()


def test_the_last_pair_is_loaded_again_and_the_status_says_so(library_models):
    main, twin = library_models["main"], library_models["twin"]
    s = Setup(Memory((main, twin)))
    s.state.on_library_scanned(auto_load=True)
    (job,) = s.last("load")
    assert job == LoadJob(job.path, main, 4096, 0)
    assert job.path.name == "main.gguf"
    s.state.on_loading(main)
    assert s.session.models.loaded_key == ""
    assert s.last("loading") == (main,)
    s.state.on_loaded(main)
    s.state.on_drafts(s.index.drafts_for(main))
    assert s.state.chosen_draft == twin
    assert s.last("chosen_draft") == (twin,)
    s.state.on_draft_changed(twin)
    assert s.last("pair") == (main, twin)
    assert s.state.draft_key == twin
    assert "as when you last closed Specula" in s.state.status
    s.store.close()


def test_a_last_model_that_is_gone_is_said_so(library_models):
    s = Setup(Memory(("gone/model.gguf", "")))
    s.state.on_library_scanned(auto_load=True)
    (job,) = s.last("load")
    s.load(job.key)
    assert "gone/model.gguf (used last time) is no longer in the library" in s.state.status
    s.store.close()


def test_a_conversation_keeps_its_settings_but_not_those_applied_on_load(setup, library_models):
    s, main = setup, library_models["main"]
    cid = s.session.new()
    s.store.remember_setup(cid, main, None, {"temperature": 0.3, "context_length": 999})
    s.session.open(cid)
    s.load(main)
    (values,) = s.last("settings")
    assert values["temperature"] == 0.3
    assert values["context_length"] == model_settings.default("context_length")


def test_the_draft_chosen_is_the_conversations_else_the_models_default(setup, library_models):
    s, main, twin, noisy = setup, library_models["main"], library_models["twin"], library_models["noisy"]
    s.defaults.update(main, {"draft_model": noisy})
    s.session.new()
    s.load(main)
    assert s.state.chosen_draft == noisy  # a new chat: the model's default draft
    cid = s.session.new()
    s.store.remember_setup(cid, main, twin, {})
    s.session.open(cid)
    assert s.state.chosen_draft == twin  # the conversation's own
    s.defaults.update(main, {"draft_model": "not/offered.gguf"})
    s.session.new()
    s.load(main)
    assert s.state.chosen_draft == ""  # a draft that is not offered is never chosen


def test_a_conversation_on_other_models_offers_them(setup, library_models):
    s, main, twin, noisy = setup, library_models["main"], library_models["twin"], library_models["noisy"]
    cid = s.session.new()
    s.store.remember_setup(cid, main, twin, {})
    s.session.new()
    s.load(noisy)
    s.session.open(cid)
    (offer,) = s.last("offer")
    assert offer.pair == (main, twin)
    assert offer.text.startswith("This conversation used")
    s.state.load_offer()
    assert s.last("offer") == (None,)
    assert s.last("load")[0].key == main
    s.load(main)
    assert s.state.chosen_draft == twin
    assert "as this conversation used" in s.state.status
    gone = s.session.new()
    s.store.remember_setup(gone, "gone/model.gguf", None, {})
    s.session.open(gone)
    (offer,) = s.last("offer")
    assert offer.pair is None
    assert "no longer in the library" in offer.text


def test_a_draft_that_cannot_be_used_is_said_and_no_longer_chosen(setup, library_models):
    s, main, twin = setup, library_models["main"], library_models["twin"]
    s.load(main)
    s.state.choose_draft(twin)
    s.state.on_draft_rejected(twin, "Could not load the draft twin.gguf: broken")
    assert s.last("problem") == ("Could not load the draft twin.gguf: broken",)
    assert s.state.chosen_draft == ""
    assert s.last("chosen_draft") == ("",)
    assert s.state.loaded_key == main  # the main model and the chat go on


def test_a_model_that_does_not_load_is_marked_and_said(setup, library_models):
    s, main = setup, library_models["main"]
    s.state.on_loading(main)
    s.state.on_load_failed(main, "bad magic")
    s.state.on_ejected()
    assert s.state.failures == {main: "bad magic"}
    assert s.last("failures") == ({main: "bad magic"},)
    assert ("problem", ("Could not load main.gguf: bad magic",)) in s.seen
    assert s.last("loading") == ("",)
    assert s.state.status == "No model loaded"
    assert s.last("drafts") == (None,)
    assert s.last("pair") == ("", "")


def test_no_other_model_loads_while_a_reply_is_written(setup, library_models):
    s, main = setup, library_models["main"]
    s.load(main)
    s.state.on_draft_changed("")
    s.session.begin(SEND, "hello")
    loads = s.names().count("load")
    s.state.load_key(library_models["noisy"])
    assert s.names().count("load") == loads
    assert s.last("problem") == ("Stop the current reply before loading another model.",)


def test_new_defaults_reach_a_chat_that_has_not_started(setup, library_models):
    s, main, twin = setup, library_models["main"], library_models["twin"]
    s.session.new()
    s.load(main)
    s.defaults.update(main, {"temperature": 0.2, "draft_model": twin})
    s.state.on_defaults_changed(main)
    assert s.last("settings")[0]["temperature"] == 0.2
    assert s.state.chosen_draft == twin
    cid = s.session.new()
    s.store.remember_setup(cid, main, None, {"temperature": 0.9})
    s.session.open(cid)
    s.defaults.update(main, {"temperature": 0.1})
    s.state.on_defaults_changed(main)
    assert s.last("settings")[0]["temperature"] == 0.9  # a conversation with its own settings keeps them


def test_prompt_lookup_is_always_offered_and_the_pair_names_it(setup, library_models):
    s, main = setup, library_models["main"]
    s.load(main)
    (choices,) = s.last("drafts")
    assert choices.offers(PROMPT_LOOKUP_KEY)
    assert choices.choices[0].key == PROMPT_LOOKUP_KEY
    s.state.choose_draft(PROMPT_LOOKUP_KEY)
    assert s.state.draft_job(PROMPT_LOOKUP_KEY).key == PROMPT_LOOKUP_KEY
    s.state.on_draft_changed(PROMPT_LOOKUP_KEY)
    assert s.last("pair") == (main, PROMPT_LOOKUP_KEY)
    assert s.state.pair_text(main, PROMPT_LOOKUP_KEY).endswith("+ Prompt lookup (no draft model)")
