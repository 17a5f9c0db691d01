"""llama.cpp backend on llama-cpp-python's low-level API.

llama-cpp-python cannot draft with a second model, so we drive llama.cpp ourselves: each
loaded model owns a context holding one sequence, and exposes the few operations the
speculative loop needs (append tokens, read a row's logits, roll the cache back).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp as ll
import numpy as np

from app.core import model_settings
from app.core.errors import (
    ContextOverflowError,
    InvalidRequestError,
    ModelFileError,
    ModelLoadError,
)
from app.core.events import StreamItem
from app.core.request import GenerationRequest
from app.engines.cached_sequence import CachedSequence, spliced_run
from app.engines.chat_template import render_prompt
from app.engines.compatibility import check_draft_source
from app.engines.drafting import DraftSource
from app.engines.prompt_reading import CancelFlag
from app.engines.prompt_tokens import tokenize_prompt
from app.engines.reply_context import ReplyContext, described
from app.engines.speculative import run_generation
from app.library.gguf_meta import GGUFInfo, read_gguf

log = logging.getLogger(__name__)

ENGINE_NAME = "llama.cpp"
DEFAULT_CONTEXT = 4096
# Below this llama.cpp either aborts or leaves no room for a reply: refuse it with a message.
MIN_CONTEXT = int(model_settings.SPECS["context_length"].minimum or 256)

_backend_lock = threading.Lock()
_backend_ready = False
_recent_llama_errors: deque[str] = deque(maxlen=8)


_LOG_ERROR, _LOG_CONT = 4, 5  # ggml_log_level
_last_log_level = 0


@ll.llama_log_callback
def _on_llama_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    """Route llama.cpp's chatter to our log; keep its recent errors for our messages."""
    global _last_log_level
    if level == _LOG_CONT:
        level = _last_log_level
    _last_log_level = level
    message = text.decode("utf-8", errors="replace").rstrip()
    if not message:
        return
    if level == _LOG_ERROR:
        _recent_llama_errors.append(message)
    log.debug("llama.cpp: %s", message)


def _ensure_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            ll.llama_log_set(_on_llama_log, ctypes.c_void_p(0))
            ll.llama_backend_init()
            _backend_ready = True


# Sliding-window models interleave window layers with full-attention ones, one in at most this
# many (Gemma 3: one in 6). With fewer layers than that, every layer may be a window layer and
# llama.cpp's cache for the full-attention layers is empty: shifting it aborts the process
# (GGML_ASSERT(buffer) in set_input_k_shift, seen with Gemma 3 cut to 2 layers).
SWA_PERIOD_MAX = 6


def _swa_only(model: object) -> bool:
    """Whether a sliding-window model may have no full-attention layer (no KV shift then)."""
    return bool(ll.llama_model_n_swa(model) > 0 and ll.llama_model_n_layer(model) < SWA_PERIOD_MAX)


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int | None = None  # None: the model's training context, capped at DEFAULT_CONTEXT
    n_gpu_layers: int = 0
    n_threads: int | None = None
    n_batch: int = 512
    progress: Callable[[float], None] | None = field(default=None, compare=False)  # 0..1 while loading


def check_load_options(options: LoadOptions) -> None:
    """Refuse settings llama.cpp would abort on (or that leave no room for a reply)."""
    if options.n_ctx is not None and options.n_ctx < MIN_CONTEXT:
        raise InvalidRequestError(
            f"context length {options.n_ctx} is too small: use at least {MIN_CONTEXT} tokens"
        )
    if options.n_batch < 1:
        raise InvalidRequestError(f"batch size {options.n_batch} must be at least 1")


class LlamaCppModel(CachedSequence):
    """A GGUF model and its one-sequence context. Not thread-safe: one generation at a time
    (generate() holds a lock)."""

    engine = ENGINE_NAME

    def __init__(self, path: str | Path, options: LoadOptions | None = None) -> None:
        options = options or LoadOptions()
        self.path = Path(path)
        check_load_options(options)
        self.info: GGUFInfo = read_gguf(self.path)  # raises ModelFileError before llama.cpp sees it
        if self.info.is_projector:
            raise ModelFileError(f"{self.path.name} is a vision projector (mmproj), not a language model")
        if self.info.is_vocab_only:
            raise ModelFileError(f"{self.path.name} holds only a vocabulary, no weights")
        _ensure_backend()
        _recent_llama_errors.clear()
        mparams = ll.llama_model_default_params()
        mparams.n_gpu_layers = options.n_gpu_layers
        if options.progress is not None:
            report = options.progress

            def on_progress(fraction: float, _user: ctypes.c_void_p) -> bool:
                report(float(fraction))
                return True

            self._progress_cb = ll.llama_progress_callback(on_progress)  # kept alive while loading
            mparams.progress_callback = self._progress_cb
        self._model = ll.llama_model_load_from_file(os.fsencode(self.path), mparams)
        if not self._model:
            raise ModelLoadError(f"llama.cpp could not load {self.path.name}: {self._last_error()}")
        self._vocab = ll.llama_model_get_vocab(self._model)
        self.n_vocab = ll.llama_vocab_n_tokens(self._vocab)
        train_ctx = ll.llama_model_n_ctx_train(self._model)
        n_ctx = min(options.n_ctx or DEFAULT_CONTEXT, train_ctx or DEFAULT_CONTEXT)
        threads = options.n_threads or max(1, os.cpu_count() or 1)
        cparams = ll.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = options.n_batch
        cparams.n_ubatch = options.n_batch
        cparams.n_seq_max = 1
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        cparams.swa_full = True  # sliding-window caches must keep every position to roll back
        self._ctx = ll.llama_init_from_model(self._model, cparams)
        if not self._ctx:
            ll.llama_model_free(self._model)
            raise ModelLoadError(
                f"llama.cpp could not create a context for {self.path.name}: {self._last_error()}"
            )
        self.n_ctx = ll.llama_n_ctx(self._ctx)
        # llama.cpp may round the context up yet keep (or cut) the batch limit: one decode call
        # past it aborts the process, so every batch is sized by what the context really took.
        self.n_batch = max(1, min(ll.llama_n_batch(self._ctx), ll.llama_n_ubatch(self._ctx)))
        self._mem = ll.llama_get_memory(self._ctx)
        # Whether the cache can move tokens to other positions (RoPE models; not M-RoPE,
        # recurrent or hybrid ones): then turns left out of a conversation are cut out of the
        # cache and what follows is kept (shift_to), instead of read again.
        self.kv_shift = bool(ll.llama_memory_can_shift(self._mem)) and not _swa_only(self._model)
        self._batch = ll.llama_batch_init(self.n_batch, 0, 1)
        # The batch's arrays as numpy views, filled a chunk at a time (one sequence: its ids
        # are set once).
        n = self.n_batch
        self._batch_tokens = np.ctypeslib.as_array(self._batch.token, shape=(n,))
        self._batch_pos = np.ctypeslib.as_array(self._batch.pos, shape=(n,))
        self._batch_wants = np.ctypeslib.as_array(self._batch.logits, shape=(n,))
        np.ctypeslib.as_array(self._batch.n_seq_id, shape=(n,))[:] = 1
        for i in range(n):
            self._batch.seq_id[i][0] = 0
        self._rows: np.ndarray | None = None  # the last batch's logits, a view (see logits)
        self._rows_view = np.zeros((0, 0), dtype=np.float32)
        self._rows_key: tuple[int | None, int] = (None, 0)
        self._n_rows = 0
        self._pieces: dict[int, bytes] = {}
        self._texts: dict[int, bytes] = {}
        self._controls: dict[int, str | None] = {}
        self.cached: list[int] = []  # tokens whose keys/values are in the cache, in order
        self.lock = threading.Lock()

    @staticmethod
    def _last_error() -> str:
        return _recent_llama_errors[-1] if _recent_llama_errors else "unknown error (see the log)"

    # --- life cycle -------------------------------------------------------------------
    def close(self) -> None:
        if getattr(self, "_ctx", None):
            ll.llama_batch_free(self._batch)
            ll.llama_free(self._ctx)
            ll.llama_model_free(self._model)
            self._ctx = None

    def __del__(self) -> None:  # best effort on interpreter exit
        with contextlib.suppress(Exception):
            self.close()

    @property
    def name(self) -> str:
        return self.path.name

    # --- vocabulary ---------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 16
        while True:
            buf = (ll.llama_token * cap)()
            n = ll.llama_tokenize(self._vocab, data, len(data), buf, cap, add_special, parse_special)
            if n >= 0:
                return list(buf[:n])
            cap = -n

    def piece(self, token: int) -> bytes:
        return self._token_bytes(token, self._pieces, special=False)

    def text_piece(self, token: int) -> bytes:
        """The token's text with control tokens written out ("<start_of_turn>"): what a
        draft with another tokenizer reads the prompt as."""
        return self._token_bytes(token, self._texts, special=True)

    def _token_bytes(self, token: int, cache: dict[int, bytes], special: bool) -> bytes:
        cached = cache.get(token)
        if cached is None:
            buf = ctypes.create_string_buffer(64)
            n = ll.llama_token_to_piece(self._vocab, token, buf, 64, 0, special)
            if n < 0:
                buf = ctypes.create_string_buffer(-n)
                n = ll.llama_token_to_piece(self._vocab, token, buf, -n, 0, special)
            cached = cache[token] = buf.raw[:n]
        return cached

    def is_eog(self, token: int) -> bool:
        return bool(ll.llama_vocab_is_eog(self._vocab, token))

    def control_text(self, token: int) -> str | None:
        """The text of a token only special parsing produces (llama.cpp's rule: control and
        unknown tokens), else None."""
        if token not in self._controls:
            attr = ll.llama_vocab_get_attr(self._vocab, token)
            special = attr & (ll.LLAMA_TOKEN_ATTR_CONTROL | ll.LLAMA_TOKEN_ATTR_UNKNOWN)
            self._controls[token] = self._special_text(token) if special else None
        return self._controls[token]

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The request's prompt as tokens; message text never reads as control tokens. An empty
        prompt is read as BOS."""
        rendered = render_prompt(request, self.info, bos_text=self.bos_text, eos_text=self.eos_text)
        return tokenize_prompt(self, rendered) or [ll.llama_vocab_bos(self._vocab)]

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (ll.llama_vocab_get_text(self._vocab, token) or b"").decode("utf-8", "replace")

    @property
    def bos_text(self) -> str:
        return self._special_text(ll.llama_vocab_bos(self._vocab))

    @property
    def eos_text(self) -> str:
        return self._special_text(ll.llama_vocab_eos(self._vocab))

    # --- the cache: what the speculative loop drives --------------------------------------
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None:
        """Append tokens to the cache; keep logits for the last `n_logits` of them (rows 0..).

        Long inputs go in chunks of at most n_batch; the last chunk is a full one ending at the
        last token, so every row that needs logits is in the same (last) decode call."""
        if not tokens:
            return
        if len(self.cached) + len(tokens) > self.n_ctx:
            raise ContextOverflowError(f"context full ({self.n_ctx} tokens)")
        if n_logits > min(len(tokens), self.n_batch):
            raise ValueError("n_logits exceeds the batch")
        first_logit = len(tokens) - n_logits
        tail = max(0, len(tokens) - self.n_batch)
        starts = [*range(0, tail, self.n_batch), tail]
        batch = self._batch
        self._rows, self._n_rows = None, n_logits
        for start, end in zip(starts, [*starts[1:], len(tokens)], strict=True):
            chunk = tokens[start:end]
            pos0, size = len(self.cached), len(chunk)
            if size == 1:  # a plain step: three stores beat three numpy calls
                batch.token[0], batch.pos[0], batch.logits[0] = chunk[0], pos0, start >= first_logit
            else:
                self._batch_tokens[:size] = chunk
                self._batch_pos[:size] = np.arange(pos0, pos0 + size)
                self._batch_wants[:size] = np.arange(start, end) >= first_logit
            batch.n_tokens = size
            rc = ll.llama_decode(self._ctx, batch)
            if rc != 0:
                raise ModelLoadError(f"llama.cpp decode failed (code {rc}): {self._last_error()}")
            self.cached.extend(chunk)

    def truncate(self, n: int) -> None:
        """Keep only the first n cached tokens."""
        if n >= len(self.cached):
            return
        if not ll.llama_memory_seq_rm(self._mem, 0, n, -1):
            # This cache cannot drop a suffix (recurrent models): rebuild the prefix.
            keep = self.cached[:n]
            ll.llama_memory_clear(self._mem, True)
            self.cached = []
            self.eval(keep, n_logits=0) if keep else None
            return
        del self.cached[n:]

    def shift_to(self, tokens: Sequence[int]) -> int:
        """Where `tokens` are the cache's with one run left out (earlier turns dropped), cut
        that run out of the cache and move what follows it back (llama.cpp's KV shift: the
        keys are re-rotated to their new positions), so it is not read again; returns how many
        tokens were cut. What follows keeps what it was computed with (it was read after the
        run), as llama.cpp's own context shift does. Nothing happens where the cache cannot
        shift, or where no run of the cache lines up with `tokens` for SHIFT_MIN_MATCH tokens."""
        if not self.kv_shift:
            return 0
        found = spliced_run(self.cached, tokens)
        if found is None:
            return 0
        start, length = found
        if not ll.llama_memory_seq_rm(self._mem, 0, start, start + length):
            return 0
        ll.llama_memory_seq_add(self._mem, 0, start + length, -1, -length)
        del self.cached[start : start + length]
        return length

    def logits(self, row: int) -> np.ndarray:
        """A row of the last batch's logits: a view into llama.cpp's buffer (all rows are
        mapped once per batch), valid until the next eval."""
        if self._rows is None:
            ptr = ll.llama_get_logits(self._ctx)
            key = (ctypes.cast(ptr, ctypes.c_void_p).value, max(self._n_rows, 1))
            if key != self._rows_key:  # llama.cpp keeps its buffer: the view is made once
                self._rows_key = key
                self._rows_view = np.ctypeslib.as_array(ptr, shape=(key[1], self.n_vocab))
            self._rows = self._rows_view
        out: np.ndarray = self._rows[row]
        return out

    # --- generation ---------------------------------------------------------------------
    def generate(
        self,
        request: GenerationRequest,
        draft: DraftSource | None = None,
        cancel: CancelFlag | None = None,
    ) -> Generator[StreamItem, None, None]:
        """Stream a reply: TokenEvents, then one GenerationResult. Errors in the request or the
        models (a draft that cannot draft for this model) raise before the first event."""
        request.validate()
        check_draft_source(self, draft)
        context = ReplyContext(self, request)  # the prompt fitted to the context, before any work
        return self._locked_generation(context, draft, cancel)

    def _locked_generation(
        self, context: ReplyContext, draft: DraftSource | None, cancel: CancelFlag | None
    ) -> Generator[StreamItem, None, None]:
        with self.lock:
            refit = context.refit if context.can_refit else None
            stream = run_generation(self, draft, context.prompt, context.request, cancel, refit=refit)
            yield from described(stream, context)
