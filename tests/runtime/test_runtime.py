"""The model runtime on real tiny GGUF models: one instance per model, leases on main + draft,
the cached pair check, drafts loaded with the main's context, fair waiting, eviction."""

from __future__ import annotations

import threading
import time

import pytest

from app.core.errors import DraftIncompatibleError
from app.core.events import GenerationResult, StopReason, TokenEvent
from app.core.request import DraftSettings, GenerationRequest, SamplingSettings
from app.engines.drafting import PROMPT_LOOKUP_KEY, chained_key
from app.engines.lookup_draft import ChainedDraft, PromptLookupDraft
from app.engines.prediction_draft import PREDICTION_NAME
from app.library.model_defaults import ModelDefaultsStore
from app.runtime import (
    MAX_WAITING,
    ClientGoneError,
    LoadSettings,
    ModelBusyError,
    ModelRuntime,
    RuntimeClosedError,
    SelfDraftError,
    UnknownModelError,
)
from tests.library.mlx_fixtures import write_mlx_folder
from tests.runtime.conftest import MAIN, NOISY, OTHER, TWIN

GREEDY = SamplingSettings(temperature=0.0, repeat_penalty=1.0)


def request(max_tokens: int = 12, prompt: str = "the cat", **draft: object) -> GenerationRequest:
    settings = DraftSettings(**{"p_min": 0.0, "auto": False, "max_draft_size": 4, **draft})  # type: ignore[arg-type]
    return GenerationRequest(prompt=prompt, max_tokens=max_tokens, sampling=GREEDY, draft=settings)


def collect(stream) -> tuple[list[TokenEvent], GenerationResult]:
    events, result = [], None
    for item in stream:
        if isinstance(item, TokenEvent):
            events.append(item)
        elif isinstance(item, GenerationResult):
            result = item
    assert result is not None
    return events, result


def test_a_lease_loads_on_demand_and_every_caller_shares_one_instance(runtime):
    with runtime.lease(MAIN, TWIN) as lease:
        main, draft = lease.main, lease.draft.model
        assert lease.main_key == MAIN
        assert lease.draft_key == TWIN
        _, result = collect(lease.generate(request()))
        assert result.stats.accepted_draft_tokens_count > 0
        assert {i.key: i.leased for i in runtime.loaded()} == {MAIN: True, TWIN: True}
    with runtime.lease(MAIN) as again:
        assert again.main is main
        assert again.draft is None
    with runtime.lease(TWIN, MAIN) as swapped:  # the same instances, roles swapped
        assert swapped.main is draft
        assert swapped.draft.model is main
    assert {i.key: i.leased for i in runtime.loaded()} == {MAIN: False, TWIN: False}
    with pytest.raises(Exception, match="lease has ended"):
        lease.generate(request())


def test_prompt_lookup_is_a_fresh_source_per_lease(runtime):
    with runtime.lease(MAIN, PROMPT_LOOKUP_KEY) as first:
        assert isinstance(first.draft, PromptLookupDraft)
        assert first.draft_key == PROMPT_LOOKUP_KEY
    with runtime.lease(MAIN, PROMPT_LOOKUP_KEY) as second:
        assert second.draft is not first.draft
    assert runtime.loaded_keys() == {MAIN}


def test_a_draft_chained_with_prompt_lookup(runtime):
    with runtime.lease(MAIN, chained_key(TWIN)) as lease:
        assert isinstance(lease.draft, ChainedDraft)
        assert lease.draft_key == chained_key(TWIN)
        twin = lease.draft.model
        _, result = collect(lease.generate(request(max_tokens=16)))
        assert result.stats.draft_model
        assert "prompt lookup" in result.stats.draft_model
    with runtime.lease(MAIN, TWIN) as plain_twin:
        assert plain_twin.draft.model is twin  # one loaded twin, whether chained or not
        assert collect(plain_twin.generate(request(max_tokens=16)))[1].text == result.text
    with pytest.raises(SelfDraftError):
        runtime.lease(MAIN, chained_key(MAIN))


@pytest.mark.parametrize("spec", [None, "", "none"])
def test_no_draft_specs(runtime, spec):
    with runtime.lease(MAIN, spec) as lease:
        assert lease.draft is None
        assert lease.draft_key is None


def test_a_model_never_drafts_for_itself(runtime, library_folder):
    with pytest.raises(SelfDraftError, match="cannot draft for itself"):
        runtime.lease(MAIN, MAIN)
    with pytest.raises(DraftIncompatibleError, match="cannot draft for itself"):
        runtime.lease(MAIN, str(library_folder / "main.gguf"))  # the same file by its path
    assert runtime.loaded() == []  # refused before anything was loaded


def test_unknown_and_incompatible_drafts_are_refused_before_loading(runtime, library_folder):
    with pytest.raises(UnknownModelError, match="no draft model named"):
        runtime.lease(MAIN, "nope")
    write_mlx_folder(library_folder / "mlx-model", ["<s>", "</s>", "a"])
    runtime.library.rescan()
    with pytest.raises(DraftIncompatibleError, match="same engine"):
        runtime.lease(MAIN, "test/tiny/mlx-model")  # translation cannot cross engines
    assert runtime.loaded() == []


def test_a_draft_with_another_vocabulary_is_leased_and_drafts_through_translation(runtime):
    verdict = runtime.check_pair(runtime.resolve(MAIN), runtime.resolve(OTHER))
    assert verdict.usable
    assert verdict.translated
    assert not verdict.compatible
    assert "vocabulary sizes differ" in verdict.reason
    assert verdict.share is not None
    with runtime.lease(MAIN) as lease:
        _, plain = collect(lease.generate(request(max_tokens=16)))
    with runtime.lease(MAIN, OTHER) as lease:
        _, drafted = collect(lease.generate(request(max_tokens=16)))
    assert drafted.text == plain.text
    assert drafted.stats.total_draft_tokens_count > 0
    with runtime.lease(MAIN, chained_key(OTHER)) as lease:  # with prompt lookup too
        _, chained = collect(lease.generate(request(max_tokens=16)))
    assert chained.text == plain.text


def test_the_pair_is_checked_once_then_answered_from_the_cache(runtime, monkeypatch):
    with runtime.lease(MAIN, NOISY) as lease:
        collect(lease.generate(request()))

    def no_more(*_a: object, **_k: object) -> None:
        raise AssertionError("a header or a vocabulary was read again")

    monkeypatch.setattr("app.library.compat_index.check_vocab_pair", no_more)
    monkeypatch.setattr("app.library.draft_rules.read_gguf", no_more)
    monkeypatch.setattr("app.engines.compatibility.check_pair_translating", no_more)
    for _ in range(2):
        with runtime.lease(MAIN, NOISY) as lease:
            collect(lease.generate(request()))
    fresh = ModelRuntime(runtime.library, runtime.defaults)  # a new start: verdicts from disk
    try:
        assert fresh.check_pair(fresh.resolve(MAIN), fresh.resolve(NOISY))
    finally:
        fresh.close()


def test_a_draft_gets_at_least_the_main_models_context(runtime):
    ModelDefaultsStore().update(TWIN, {"context_length": 256})
    runtime.defaults = ModelDefaultsStore()
    small = runtime.load(TWIN)  # loaded on its own: its My Models context
    assert small.n_ctx == 256
    with runtime.lease(MAIN, TWIN) as lease:
        assert lease.main.n_ctx == 512
        assert lease.draft.model.n_ctx >= lease.main.n_ctx
        _, result = collect(lease.generate(request(max_tokens=400, prompt="the")))
    assert result.error is None, result.error
    assert result.stats.predicted_tokens_count == 400, result.error
    assert result.stats.stop_reason is StopReason.MAX_TOKENS
    assert result.stats.accepted_draft_tokens_count > 256  # the draft kept drafting past 256


def test_load_applies_new_settings_and_reuses_otherwise(runtime):
    first = runtime.load(MAIN, LoadSettings(256))
    with runtime.lease(MAIN) as lease:
        model = lease.main
    assert runtime.load(MAIN).n_ctx == first.n_ctx == 256
    assert runtime.load(MAIN, LoadSettings(512)).n_ctx == 512
    with runtime.lease(MAIN) as lease:
        assert lease.main is not model


def hold(runtime: ModelRuntime, key: str) -> tuple[threading.Event, threading.Thread]:
    """A thread holding a lease on `key` until the returned event is set."""
    entered, leave = threading.Event(), threading.Event()

    def run() -> None:
        with runtime.lease(key):
            entered.set()
            leave.wait(30)

    thread = threading.Thread(target=run)
    thread.start()
    assert entered.wait(30)
    return leave, thread


def test_waiting_is_first_come_first_served_bounded_and_a_gone_client_leaves(runtime):
    runtime.load(MAIN)
    leave, holder = hold(runtime, MAIN)
    order: list[int] = []
    gone = threading.Event()
    outcomes: dict[int, str] = {}

    def waiter(i: int) -> None:
        try:
            with runtime.lease(MAIN, gone=(gone.is_set if i == 3 else None)):
                order.append(i)
            outcomes[i] = "served"
        except ClientGoneError:
            outcomes[i] = "left"

    threads = []
    for i in range(MAX_WAITING):
        threads.append(threading.Thread(target=waiter, args=(i,)))
        threads[-1].start()
        deadline = time.monotonic() + 10
        while runtime.loaded()[0].waiting < i + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
    assert runtime.loaded()[0].waiting == MAX_WAITING
    with pytest.raises(ModelBusyError, match="busy"):
        runtime.lease(MAIN).__enter__()
    gone.set()  # waiter 3's client disconnects: it leaves the line at once
    deadline = time.monotonic() + 10
    while outcomes.get(3) != "left" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert outcomes.get(3) == "left"
    assert runtime.loaded()[0].waiting == MAX_WAITING - 1
    leave.set()
    holder.join(30)
    for t in threads:
        t.join(30)
    assert order == [i for i in range(MAX_WAITING) if i != 3]
    assert runtime.loaded()[0].waiting == 0


def test_evicting_a_leased_model_waits_for_the_lease(runtime):
    runtime.load(MAIN)
    leave, holder = hold(runtime, MAIN)
    done = threading.Event()
    evictor = threading.Thread(target=lambda: (runtime.evict(MAIN), done.set()))
    evictor.start()
    assert not done.wait(0.5)
    assert runtime.loaded_keys() == {MAIN}
    leave.set()
    assert done.wait(30)
    holder.join(30)
    evictor.join(30)
    assert runtime.loaded() == []


def test_evict_without_waiting_closes_when_the_lease_ends_never_under_a_decode(runtime):
    paused, resume = threading.Event(), threading.Event()
    closed_while_locked: list[bool] = []
    results: list[GenerationResult] = []

    class Gate:
        """A cancel flag the engine reads every round; it pauses the reply mid-decode once."""

        calls = 0

        def is_set(self) -> bool:
            Gate.calls += 1
            if Gate.calls == 5:
                paused.set()
                resume.wait(30)
            return False

    def serve() -> None:
        with runtime.lease(MAIN, TWIN, cancel=Gate()) as lease:
            for model in (lease.main, lease.draft.model):
                original = model.close
                model.close = lambda m=model, o=original: (closed_while_locked.append(m.lock.locked()), o())[
                    1
                ]
            results.append(collect(lease.generate(request(max_tokens=60)))[1])

    server = threading.Thread(target=serve)
    server.start()
    assert paused.wait(30)
    # The chat switches its draft and ejects while the request is drafting with both models.
    assert runtime.evict(TWIN, wait=False) is True
    runtime.load(NOISY, pin=True)
    assert runtime.evict(MAIN, wait=False) is True
    assert runtime.loaded_keys() == {MAIN, TWIN, NOISY}  # nothing closed under the decode
    resume.set()
    server.join(30)
    assert results
    assert results[0].error is None
    assert results[0].stats.predicted_tokens_count == 60
    assert results[0].stats.accepted_draft_tokens_count > 0
    assert runtime.loaded_keys() == {NOISY}  # closed when the lease ended
    assert closed_while_locked == [False, False]


def test_evict_with_cancel_stops_the_reply_cleanly(runtime):
    started = threading.Event()
    results: list[GenerationResult] = []

    def serve() -> None:
        with runtime.lease(MAIN, TWIN) as lease:
            stream = lease.generate(request(max_tokens=100_000))
            for item in stream:
                started.set()
                if isinstance(item, GenerationResult):
                    results.append(item)

    server = threading.Thread(target=serve)
    server.start()
    assert started.wait(30)
    assert runtime.evict(TWIN, cancel=True) is True
    server.join(30)
    assert results[0].stats.stop_reason is StopReason.CANCELLED
    assert results[0].error is None
    assert runtime.loaded_keys() == {MAIN}


def test_close_cancels_replies_frees_everything_and_refuses_new_leases(runtime):
    started = threading.Event()
    results: list[GenerationResult] = []
    failures: list[Exception] = []

    def serve() -> None:
        with runtime.lease(MAIN, TWIN) as lease:
            for item in lease.generate(request(max_tokens=100_000)):
                started.set()
                if isinstance(item, GenerationResult):
                    results.append(item)

    def wait_in_line() -> None:
        try:
            with runtime.lease(MAIN):
                pass
        except RuntimeClosedError as exc:
            failures.append(exc)

    server = threading.Thread(target=serve)
    server.start()
    assert started.wait(30)
    waiter = threading.Thread(target=wait_in_line)
    waiter.start()
    time.sleep(0.2)
    runtime.close()
    server.join(30)
    waiter.join(30)
    assert results[0].stats.stop_reason is StopReason.CANCELLED
    assert len(failures) == 1
    assert runtime.loaded() == []
    with pytest.raises(RuntimeClosedError):
        runtime.lease(MAIN)
    runtime.close()  # twice is fine


def test_idle_models_can_be_unloaded_but_never_a_leased_or_pinned_one(runtime):
    runtime.load(MAIN, pin=True)
    with runtime.lease(TWIN):
        pass
    leave, holder = hold(runtime, NOISY)
    info = {i.key: i for i in runtime.loaded()}
    assert info[MAIN].pinned
    assert not info[TWIN].pinned
    assert info[NOISY].leased
    assert info[TWIN].last_used <= time.monotonic()
    assert runtime.evict_idle(3600) == []
    assert runtime.evict_idle(0) == [TWIN]
    assert runtime.loaded_keys() == {MAIN, NOISY}
    leave.set()
    holder.join(30)
    assert runtime.evict_idle(0) == [NOISY]
    runtime.pin(MAIN, False)
    assert runtime.evict_idle(0) == [MAIN]
    assert runtime.loaded() == []


def test_models_outside_the_library_by_path(runtime, tiny_main, tiny_noisy, tiny_twin):
    with runtime.lease(str(tiny_main), str(tiny_noisy)) as lease:
        assert lease.main_key == str(tiny_main.resolve())
        collect(lease.generate(request()))
    with pytest.raises(SelfDraftError):
        runtime.lease(str(tiny_main), str(tiny_main))
    with pytest.raises(UnknownModelError, match="model file not found"):
        runtime.lease(str(tiny_main.with_name("missing.gguf")))


def test_idle_unloading_can_be_limited_to_some_models(runtime):
    for key in (MAIN, TWIN):
        with runtime.lease(key):
            pass
    assert runtime.evict_idle(0, keys=[TWIN, "not/loaded.gguf"]) == [TWIN]
    assert runtime.loaded_keys() == {MAIN}


def test_a_reply_can_draft_with_a_prediction_on_the_leases_draft(runtime):
    with runtime.lease(MAIN, TWIN) as lease:
        source = lease.draft
        _, result = collect(lease.generate(request(prompt="the cat the cat the cat"), prediction="the cat"))
        assert lease.draft is source  # built once for the lease, never changed by a reply
    assert result.stats.draft_model == f"{PREDICTION_NAME} + {source.name}"
    assert result.stats.total_draft_tokens_count > 0
