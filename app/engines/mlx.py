"""MLX backend: mlx-lm models behind the same small interface as llama.cpp.

mlx-lm's speculative generator reports `from_draft` but not how many tokens were drafted, so
we do not use it: the MLX model implements the few cache operations our own loop needs
(append tokens, read a row's logits, trim the cache), and the very same loop
(app/engines/speculative.py) drafts, verifies, tags origins and counts honestly. Sliding-window
layers use a cache that can always roll back a round (app/engines/mlx_cache.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.core.errors import (
    ContextOverflowError,
    EngineUnavailableError,
    ModelLoadError,
)
from app.core.events import StreamItem
from app.core.request import GenerationRequest
from app.engines.cached_sequence import CachedSequence
from app.engines.chat_template import render_prompt
from app.engines.compatibility import check_draft_source
from app.engines.device_greedy import GreedyRun
from app.engines.drafting import DraftSource
from app.engines.mlx_queue import Queued, can_drop_any
from app.engines.prompt_reading import CancelFlag
from app.engines.prompt_tokens import tokenize_prompt
from app.engines.reply_context import ReplyContext, described
from app.engines.speculative import run_generation
from app.library.mlx_meta import MLXInfo, read_mlx_folder
from app.library.token_texts import byte_level_decoder

ENGINE_NAME = "MLX"
DEFAULT_CONTEXT = 4096
PREFILL_CHUNK = 512
INSTALL_HINT = "pip install 'specula[mlx]'  (macOS with Apple silicon, or Linux with mlx[cpu])"


def mlx_available() -> bool:
    try:
        import mlx.core  # noqa: F401
        import mlx_lm  # noqa: F401
    except ImportError:
        return False
    return True


class _Source:
    """What chat templates need to know of an MLX model."""

    def __init__(self, architecture: str, chat_template: str | None) -> None:
        self.architecture = architecture
        self.chat_template = chat_template


class MLXModel(CachedSequence):
    engine = ENGINE_NAME

    def __init__(self, folder: str | Path, n_ctx: int | None = None) -> None:
        self.path = Path(folder)
        self.info: MLXInfo = read_mlx_folder(self.path)  # clear errors before mlx-lm sees the folder
        if not mlx_available():
            raise EngineUnavailableError(f"{self.path.name} needs the MLX engine: {INSTALL_HINT}")
        import mlx_lm

        from app.engines.mlx_cache import make_rollback_cache

        try:
            loaded = mlx_lm.load(str(self.path))
            self._model, self._tok = loaded[0], loaded[1]
        except Exception as exc:  # mlx-lm raises many kinds; the user needs one line
            raise ModelLoadError(f"MLX could not load {self.path.name}: {exc}") from None
        self._make_cache = make_rollback_cache
        self._cache = make_rollback_cache(self._model)
        self._queued: Queued | None = None  # a batch queued before the loop asked for it
        self._can_queue = all(can_drop_any(c) for c in self._cache)
        train_ctx = self.info.context_length or DEFAULT_CONTEXT
        self.n_ctx = min(n_ctx or DEFAULT_CONTEXT, train_ctx)
        self.cached: list[int] = []
        self.n_batch = PREFILL_CHUNK  # tokens per forward pass
        self._rows: Any = None  # the last batch's logits (an MLX array, maybe still computing)
        self._logits: np.ndarray | None = None  # the same, copied to the host on first reading
        self._eos = set(getattr(self._tok, "eos_token_ids", None) or [self._tok.eos_token_id])
        decoder = json.loads((self.path / "tokenizer.json").read_text(encoding="utf-8")).get("decoder") or {}
        self._byte_level = "ByteLevel" in json.dumps(decoder)
        self._pieces: dict[int, bytes] = {}
        self.lock = threading.Lock()
        self._tok_lock = threading.Lock()
        added = getattr(self._tok, "added_tokens_decoder", None) or {}
        self._controls = {int(i): str(t.content) for i, t in added.items() if getattr(t, "special", False)}
        try:
            tok_cfg = json.loads((self.path / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            tok_cfg = {}
        template = tok_cfg.get("chat_template")
        self._template = _Source(self.info.architecture, template if isinstance(template, str) else None)
        self._bos_text = str(getattr(self._tok, "bos_token", "") or "")
        self._eos_text = str(getattr(self._tok, "eos_token", "") or "")

    @property
    def name(self) -> str:
        return self.path.name

    def close(self) -> None:
        self._cache = []
        self.cached = []
        self._queued = None

    # --- vocabulary -------------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True, parse_special: bool = True) -> list[int]:
        """Without `parse_special`, written-out special tokens stay text (Hugging Face's
        `split_special_tokens`, which sets a flag on the shared tokenizer: hence the lock)."""
        with self._tok_lock:
            ids = self._tok.encode(
                text, add_special_tokens=add_special, split_special_tokens=not parse_special
            )
        return [int(i) for i in ids]

    def control_text(self, token: int) -> str | None:
        """The text of a special added token (what `split_special_tokens` leaves as text)."""
        return self._controls.get(int(token))

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The request's prompt as tokens; message text never reads as control tokens. An empty
        prompt is read as BOS (or a space)."""
        rendered = render_prompt(request, self._template, bos_text=self._bos_text, eos_text=self._eos_text)
        return tokenize_prompt(self, rendered) or self.tokenize(self._bos_text or " ", add_special=False)

    def piece(self, token: int) -> bytes:
        cached = self._pieces.get(token)
        if cached is None:
            text = str(self._tok.convert_ids_to_tokens(int(token)))
            if token in self._eos or text in getattr(self._tok, "all_special_tokens", ()):
                cached = b""
            elif self._byte_level:
                table = byte_level_decoder()
                cached = bytes(table[c] for c in text if c in table)
            elif text.startswith("<0x") and text.endswith(">") and len(text) == 6:
                cached = bytes([int(text[3:5], 16)])
            else:
                cached = text.replace("\u2581", " ").encode("utf-8")
            self._pieces[token] = cached
        return cached

    def text_piece(self, token: int) -> bytes:
        """The token's text with special tokens written out (as a draft with another
        tokenizer reads the prompt)."""
        text = str(self._tok.convert_ids_to_tokens(int(token)))
        if token in self._eos or text in getattr(self._tok, "all_special_tokens", ()):
            return text.encode("utf-8")
        return self.piece(token)

    def is_eog(self, token: int) -> bool:
        return token in self._eos

    # --- the cache --------------------------------------------------------------------------
    def eval(self, tokens: Sequence[int], n_logits: int = 1) -> None:
        """Queue the batch; its logits are waited for when first read (`logits`, or a greedy
        token found on the device), so the loop's own work overlaps the computation. A batch
        already queued with exactly these tokens (`greedy_rows(ahead=True)`) is taken as it is."""
        import mlx.core as mx

        if not tokens:
            return
        if len(self.cached) + len(tokens) > self.n_ctx:
            raise ContextOverflowError(f"context full ({self.n_ctx} tokens)")
        if self._queued is not None and self._take_queued(tokens, n_logits):
            return
        for start in range(0, len(tokens), PREFILL_CHUNK):
            chunk = list(tokens[start : start + PREFILL_CHUNK])
            out = self._model(mx.array([chunk]), cache=self._cache)
            last = start + len(chunk) >= len(tokens)
            if last and n_logits > 0:
                self._rows, self._logits = out[0, -n_logits:, :], None
                mx.async_eval(self._rows)
            else:
                mx.eval(out)
            self.cached.extend(chunk)

    # --- a batch queued ahead of the loop ---------------------------------------------------
    def _take_queued(self, tokens: Sequence[int], n_logits: int) -> bool:
        """The queued batch becomes this one when it holds exactly these tokens (the same
        batch, so the same numbers as computing it now); otherwise it is dropped."""
        queued, self._queued = self._queued, None
        assert queued is not None
        if 0 < n_logits <= len(tokens) == queued.size and queued.tokens() == list(tokens):
            self.cached.extend(tokens)
            self._rows = queued.rows if n_logits == queued.size else queued.rows[-n_logits:]
            self._logits = None
            return True
        self._drop(queued)
        return False

    def _drop(self, queued: Queued) -> None:
        """The cache back to `cached`: the queued batch's positions taken off (its work is lost)."""
        for c in self._cache:
            c.trim(queued.size)

    def _settle(self) -> None:
        """Whatever is queued is dropped before the cache is used another way."""
        if self._queued is not None:
            queued, self._queued = self._queued, None
            self._drop(queued)

    def truncate(self, n: int) -> None:
        """Drop the cache's last tokens. Sliding-window layers keep some slack for this
        (app/engines/mlx_cache.py); only a cache that truly cannot drop them (a recurrent
        state, or a rollback past that slack) is rebuilt from the kept prefix."""
        from app.engines.mlx_cache import can_trim

        self._settle()
        drop = len(self.cached) - n
        if drop <= 0:
            return
        if can_trim(self._cache, drop):
            for c in self._cache:
                c.trim(drop)
            del self.cached[n:]
            return
        keep = self.cached[:n]
        self._cache = self._make_cache(self._model)
        self.cached = []
        if keep:
            self.eval(keep, n_logits=0)

    def logits(self, row: int) -> np.ndarray:
        """A row of the last batch's logits (float32)."""
        if self._logits is None:
            import mlx.core as mx

            rows = self._rows if self._rows.dtype == mx.float32 else self._rows.astype(mx.float32)
            self._logits = np.array(rows)
        logits: np.ndarray = self._logits[row]
        return logits

    # --- greedy tokens found on the device (app/engines/device_greedy.py) -----------------------
    def greedy_rows(self, ahead: bool = False) -> list[int]:
        from app.engines.mlx_greedy import argmax_rows

        self._settle()
        ahead = ahead and self._can_queue and len(self.cached) < self.n_ctx
        tops, rows = argmax_rows(self._rows, self._step if ahead else None)
        if rows is not None:  # the cache holds one position more than `cached` says
            self._queued = Queued([tops[-1]], rows)
        return tops

    def greedy_run(self, n: int, tops: bool, then: Callable[[Any], None] | None = None) -> GreedyRun:
        from app.engines.mlx_greedy import run

        self._settle()
        if len(self.cached) + n - 1 > self.n_ctx:
            raise ContextOverflowError(f"context full ({self.n_ctx} tokens)")
        start = len(self.cached)
        found, fed, rows = run(self._rows, n, self._step, tops, then)
        self.cached.extend(fed)
        kept = len(found.tokens)
        if kept < n:  # stopped before a row with no finite best: back to where that row is
            self.truncate(start + kept)
        self._rows, self._logits = rows[min(kept, n - 1)], None
        return found

    def queue_verify(self, last: int, drafted: Any) -> None:
        """Queue the verify batch [last, *drafted] behind the draft's steps, its tokens (each
        (1, 1)) still on the device; the loop's `eval` of the same tokens takes it."""
        import mlx.core as mx

        self._settle()
        if not self._can_queue or len(self.cached) + 1 + len(drafted) > self.n_ctx:
            return
        fed = mx.concatenate([mx.array([[last]], dtype=drafted[0].dtype), *drafted], axis=1)
        rows = self._model(fed, cache=self._cache)[0]
        mx.async_eval(rows)
        self._queued = Queued(drafted, rows, first=last)

    def _step(self, token: Any) -> Any:
        """One position's logits, (1, vocab), for a (1, 1) token array (still on the device)."""
        return self._model(token, cache=self._cache)[0]

    # --- generation -----------------------------------------------------------------------
    def generate(
        self, request: GenerationRequest, draft: DraftSource | None = None, cancel: CancelFlag | None = None
    ) -> Generator[StreamItem, None, None]:
        request.validate()
        check_draft_source(self, draft)
        context = ReplyContext(self, request)  # the prompt fitted to the context, before any work
        return self._locked(context, draft, cancel)

    def _locked(
        self, context: ReplyContext, draft: DraftSource | None, cancel: CancelFlag | None
    ) -> Generator[StreamItem, None, None]:
        with self.lock:
            refit = context.refit if context.can_refit else None
            stream = run_generation(self, draft, context.prompt, context.request, cancel, refit=refit)
            yield from described(stream, context)
