"""Tiny MLX model folders written by the tests: a llama-style config, random weights in
safetensors, and a byte-level BPE tokenizer trained with `tokenizers` on a few sentences."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CORPUS = [
    "the cat sat on the mat and the dog ran to the house",
    "hello world, this is a small test of the tiny model",
    "def add(x, y): return x + y  # code is text too",
    "café naïve résumé — unicode in a few words",
] * 20


CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content | trim }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def write_tokenizer(
    folder: Path,
    vocab_size: int = 320,
    extra_special: str | Sequence[str] | None = None,
    chat_template: str | None = None,
) -> None:
    """`extra_special`: more special tokens (ChatML's "<|im_start|>" and "<|im_end|>" with
    `chat_template=CHATML`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    extra = [extra_special] if isinstance(extra_special, str) else list(extra_special or [])
    special = ["<s>", "</s>", "<unk>", *extra]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "bos_token": "<s>",
                "eos_token": "</s>",
                "unk_token": "<unk>",
                "add_bos_token": True,
                "tokenizer_class": "PreTrainedTokenizerFast",
                **({"chat_template": chat_template} if chat_template else {}),
            }
        )
    )


def write_mlx_model(
    folder: Path,
    *,
    seed: int = 0,
    hidden: int = 64,
    layers: int = 2,
    noise: float = 0.0,
    noise_seed: int = 1,
    vocab_size: int = 320,
    extra_special: str | Sequence[str] | None = None,
    chat_template: str | None = None,
    sliding_window: int | None = None,
) -> Path:
    """With `sliding_window`, every layer but the last attends only to that many recent
    tokens (mlx-lm gives those layers a rotating cache)."""
    import mlx.core as mx

    write_tokenizer(folder, vocab_size, extra_special, chat_template)
    n_vocab = json.loads((folder / "tokenizer.json").read_text())["model"]["vocab"].__len__()
    n_vocab = max(
        n_vocab, 1 + max(t["id"] for t in json.loads((folder / "tokenizer.json").read_text())["added_tokens"])
    )
    rng = np.random.default_rng(seed)
    ff = hidden * 2

    def rand(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": rand(n_vocab, hidden, scale=1.0),
        "model.norm.weight": np.ones(hidden, np.float32),
        "lm_head.weight": rand(n_vocab, hidden, scale=1.0),
    }
    s = 1 / np.sqrt(hidden)
    for i in range(layers):
        p = f"model.layers.{i}."
        for name, shape in (
            ("self_attn.q_proj", (hidden, hidden)),
            ("self_attn.k_proj", (hidden, hidden)),
            ("self_attn.v_proj", (hidden, hidden)),
            ("self_attn.o_proj", (hidden, hidden)),
            ("mlp.gate_proj", (ff, hidden)),
            ("mlp.up_proj", (ff, hidden)),
            ("mlp.down_proj", (hidden, ff)),
        ):
            w[p + name + ".weight"] = rand(*shape, scale=s)
        w[p + "input_layernorm.weight"] = np.ones(hidden, np.float32)
        w[p + "post_attention_layernorm.weight"] = np.ones(hidden, np.float32)
    if noise:
        nrng = np.random.default_rng(noise_seed)
        w = {
            k: (v + nrng.standard_normal(v.shape).astype(np.float32) * noise * v.std()) if v.ndim == 2 else v
            for k, v in w.items()
        }
    mx.save_safetensors(str(folder / "model.safetensors"), {k: mx.array(v) for k, v in w.items()})
    window: dict[str, object] = {}
    if sliding_window:
        window = {
            "sliding_window": sliding_window,
            "layer_types": ["sliding_attention"] * (layers - 1) + ["full_attention"],
        }
    (folder / "config.json").write_text(
        json.dumps(
            {
                **window,
                "model_type": "llama",
                "hidden_size": hidden,
                "num_hidden_layers": layers,
                "intermediate_size": ff,
                "num_attention_heads": 4,
                "num_key_value_heads": 4,
                "rms_norm_eps": 1e-5,
                "vocab_size": n_vocab,
                "max_position_embeddings": 512,
                "tie_word_embeddings": False,
                "rope_theta": 10000.0,
            }
        )
    )
    return folder
