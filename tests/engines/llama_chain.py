"""llama.cpp's own sampler chain, driven through ctypes: the reference our numpy sampler is
checked against (tests) and timed against (bench/sampler_bench.py)."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import llama_cpp as ll
import numpy as np

from app.core.request import SamplingSettings


def llama_chain(s: SamplingSettings, n_vocab: int, history: Sequence[int] = (), final: bool = True) -> object:
    """penalties -> top-k -> top-p -> min-p -> temperature (-> dist when `final`), the order
    the app has always used; greedy at temperature 0."""
    chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
    if s.repeat_penalty != 1.0:
        try:
            penalties = ll.llama_sampler_init_penalties(n_vocab, s.repeat_last_n, s.repeat_penalty, 0.0, 0.0)
        except TypeError:  # the C signature lost its n_vocab in later llama.cpp versions
            penalties = ll.llama_sampler_init_penalties(s.repeat_last_n, s.repeat_penalty, 0.0, 0.0)
        ll.llama_sampler_chain_add(chain, penalties)
    if s.temperature <= 0:
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
    else:
        if s.top_k > 0:
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_k(s.top_k))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_top_p(s.top_p, 1))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_min_p(s.min_p, 1))
        ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(s.temperature))
        if final:
            seed = s.seed if s.seed is not None else ll.LLAMA_DEFAULT_SEED
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed & 0xFFFFFFFF))
    for tok in history[-s.repeat_last_n :] if s.repeat_last_n > 0 else ():
        ll.llama_sampler_accept(chain, tok)
    return chain


class ChainDistribution:
    """The distribution llama.cpp's chain (without its final draw) leaves over a logits row."""

    def __init__(self, n_vocab: int) -> None:
        self.n_vocab = n_vocab
        self._data = (ll.llama_token_data * n_vocab)()
        self._view = np.ctypeslib.as_array(self._data)  # structured: id, logit, p
        self._ids = np.arange(n_vocab, dtype=np.int32)

    def __call__(self, chain: object, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        view = self._view
        view["id"] = self._ids
        view["logit"] = logits
        view["p"] = 0.0
        arr = ll.llama_token_data_array(self._data, self.n_vocab, -1, False)
        ll.llama_sampler_apply(chain, ctypes.byref(arr))
        kept = np.ctypeslib.as_array(arr.data, shape=(arr.size,)).copy()
        ids = kept["id"].astype(np.int64)
        lg = kept["logit"].astype(np.float64)
        probs = np.exp(lg - lg.max())
        probs /= probs.sum()
        order = np.argsort(-probs, kind="stable")
        return ids[order], probs[order]


def free_chain(chain: object) -> None:
    ll.llama_sampler_free(chain)
