"""The fast pair: models whose decode step takes about as long as a GPU's, so that the loop's
own work (reading logits, sampling over the vocabulary, drafting logic) is what is measured.

The main model has Gemma 3's architecture, its real 262k-token vocabulary and tokenizer
(copied from the bundled Q4_K_M), but a hidden size of 64 and two blocks of random weights;
its output layer (the tied embedding, in Q8_0) is what a step mostly costs: about a
millisecond on a CPU core. The draft is a byte-identical copy in another file, so greedy
acceptance is 100% and every round drafts the full draft size (the loop at its busiest).
Written at run time into SPECULA_TEST_MODELS, never committed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import gguf
import numpy as np

from tests.model_factory import gemma_q4, model_cache_dir

HIDDEN = 64
LAYERS = 2
HEADS = 2
HEAD_DIM = 32
FFN = 128


def _write(dst: Path, seed: int) -> Path:
    reader = gguf.GGUFReader(str(gemma_q4()))
    arch = "gemma3"
    overrides: dict[str, object] = {
        f"{arch}.embedding_length": HIDDEN,
        f"{arch}.block_count": LAYERS,
        f"{arch}.feed_forward_length": FFN,
        f"{arch}.attention.head_count": HEADS,
        f"{arch}.attention.head_count_kv": 1,
        f"{arch}.attention.key_length": HEAD_DIM,
        f"{arch}.attention.value_length": HEAD_DIM,
        f"{arch}.context_length": 4096,
        "general.name": "Gemma 3 vocabulary, tiny",
        "general.file_type": int(gguf.LlamaFileType.MOSTLY_Q8_0),
    }
    tmp = dst.with_name(dst.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, overrides.get(key, field.contents()), vtype, sub_type=sub)
    rng = np.random.default_rng(seed)
    n_vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    f32 = np.float32

    def rand(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(f32)

    q8 = gguf.quants.quantize(rand(n_vocab, HIDDEN, scale=0.5), gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("token_embd.weight", q8, raw_shape=q8.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=f32))
    scale = 0.5 / np.sqrt(HIDDEN)
    for i in range(LAYERS):
        p = f"blk.{i}."
        for norm in ("attn_norm", "post_attention_norm", "ffn_norm", "post_ffw_norm"):
            writer.add_tensor(p + norm + ".weight", np.ones(HIDDEN, dtype=f32))
        writer.add_tensor(p + "attn_q_norm.weight", np.ones(HEAD_DIM, dtype=f32))
        writer.add_tensor(p + "attn_k_norm.weight", np.ones(HEAD_DIM, dtype=f32))
        writer.add_tensor(p + "attn_q.weight", rand(HEADS * HEAD_DIM, HIDDEN, scale=scale))
        writer.add_tensor(p + "attn_k.weight", rand(HEAD_DIM, HIDDEN, scale=scale))
        writer.add_tensor(p + "attn_v.weight", rand(HEAD_DIM, HIDDEN, scale=scale))
        writer.add_tensor(p + "attn_output.weight", rand(HIDDEN, HEADS * HEAD_DIM, scale=scale))
        writer.add_tensor(p + "ffn_gate.weight", rand(FFN, HIDDEN, scale=scale))
        writer.add_tensor(p + "ffn_up.weight", rand(FFN, HIDDEN, scale=scale))
        writer.add_tensor(p + "ffn_down.weight", rand(HIDDEN, FFN, scale=scale))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)
    return dst


def fast_pair() -> tuple[Path, Path]:
    """(main, draft): the draft is a copy of the main model in its own file."""
    folder = model_cache_dir()
    main = folder / "gemma3-vocab-tiny-main.gguf"
    draft = folder / "gemma3-vocab-tiny-draft.gguf"
    if not main.exists():
        _write(main, seed=0)
    if not draft.exists():
        shutil.copyfile(main, draft)
    return main, draft
